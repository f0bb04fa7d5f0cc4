# VinDr-CXR (Le et al., IEEE Access 2023): chest X-rays boxed by three of 17 radiologists.
#
#   make -f pipelines/vindr.mk VINDR=DIR [RUN=results/vindr] [VINDR_TEST=FILE] [RADS=0|1]
#        [WIDTH=1024] [SEED=1] [data | methods | all] -j8
#
# DIR holds train.csv (or annotations/annotations_train.csv, as PhysioNet ships it) and the
# images, DICOM, PNG or JPEG, named by image_id, in DIR itself or in DIR/images, DIR/train
# or DIR/test. Only the images the CSVs name are used (scripts/vindr-images.sh). Each DICOM
# becomes an 8-bit PNG in RUN/images (scripts/dicom2png.sh: VOI window or LUT applied,
# MONOCHROME1 inverted, scaled to WIDTH), in parallel under make -j, and its original frame,
# read with dcmdump, goes to RUN/sizes.csv so that the CSV's coordinates keep their meaning;
# PNG and JPEG files are linked there as they are (DIR/sizes.csv, when present, gives their
# original frames if they were resized). The records are ingested and split by image,
# stratified by label (STRATIFY= splits by id hash alone):
#   - without VINDR_TEST, 12,000/3,000 as in the paper (RATIOS 0.75,0.05,0.2: the 12,000
#     are 11,250 to train on and 750 to choose the epoch by); the 3,000 held-out images are
#     the test split and their fused boxes the reference, for want of a consensus;
#   - with VINDR_TEST (PhysioNet's consensus CSV, annotations_test.csv), the images it names
#     are the test split, scored against that consensus ("truth"), and the CSV's images are
#     split 12,000/3,000 to train and validate (VAL_RATIOS 0.8,0.2).
# Every split is fused (WBF, iou_thr 0.4; detect.mk). WIDTH and VINDR, the ingest options
# and the split options are remembered (RUN/*.args): changing one redoes that stage and
# what follows. RADS=1
# (DATASET=vindr-rads) keeps the Rads-VinDr-CXR subset: the images read by exactly R8, R9
# and R10, and with VINDR_TEST the consensus images. The target `data` stops there;
# `methods` (pipelines/detect.mk) trains, predicts, scores and summarises; `all` (the
# default) does both.

# Without the built-in rules: make would try each of them on every one of 15,000 image
# files (a dry run took 11 s for that alone, 0.8 s without).
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:
DATASET ?= vindr
RUN ?= results/$(DATASET)
VINDR ?=
VINDR_TEST ?=
RADS ?= $(if $(filter vindr-rads,$(DATASET)),1,0)
WIDTH ?= 1024
SEED ?= 1
RATIOS ?= 0.75,0.05,0.2
VAL_RATIOS ?= 0.8,0.2
STRATIFY ?= --stratify
CSV ?= $(firstword $(wildcard $(VINDR)/train.csv $(VINDR)/annotations/annotations_train.csv) $(VINDR)/train.csv)
IMAGE_DIRS ?= $(VINDR) $(VINDR)/images $(VINDR)/train $(VINDR)/test
SIZES_IN ?= $(wildcard $(VINDR)/sizes.csv)
INGEST ?= bin/ingest
FUSE ?= bin/fuse
SPLIT ?= bin/split

# The defaults of detect.mk for X-rays: grey 512 px inputs, the s model, SGD.
EPOCHS ?= 30
IMG ?= 512
MODEL ?= s
RECIPE ?= --batch 16 --nominal-batch 64
ANNOTATORS ?= $(if $(filter 1,$(RADS)),R8 R9 R10)
# No VINDR_TEST: the held-out images' fused boxes are the reference (score --truth objects).
SCORE_TRUTH ?= $(if $(VINDR_TEST),truth,objects)
VAL_TRUTH ?= objects
REFERENCE ?= $(if $(VINDR_TEST),the radiologists' consensus ($(notdir $(VINDR_TEST))),the held-out split's fused boxes (WBF of its radiologists; no VINDR_TEST was given, so there is no consensus to score against))
FUSION_SCORE :=
.DEFAULT_GOAL := all

ifeq ($(strip $(VINDR)),)
$(error VINDR=DIR is required: the folder with train.csv and the images (see pipelines/vindr.mk))
endif
ifeq ($(wildcard $(CSV)),)
$(error VINDR=$(VINDR): no $(CSV) (train.csv or annotations/annotations_train.csv))
endif
ifneq ($(VINDR_TEST),)
ifeq ($(wildcard $(VINDR_TEST)),)
$(error VINDR_TEST=$(VINDR_TEST): no such file)
endif
endif

# The image files the CSVs name, and what each becomes in RUN/images. Listed only where the
# data are made: the seeds of make experiments (DATA=RUN/..) need none of it.
ifeq ($(or $(DATA),$(RUN)),$(RUN))
SOURCES := $(shell scripts/vindr-images.sh '$(CSV) $(VINDR_TEST)' $(IMAGE_DIRS) || echo vindr-images.sh-failed)
ifneq ($(filter vindr-images.sh-failed,$(SOURCES)),)
$(error scripts/vindr-images.sh could not list the images of $(CSV) $(VINDR_TEST) in $(IMAGE_DIRS))
endif
DICOM_SRC := $(filter %.dicom %.dcm,$(SOURCES))
RASTER_SRC := $(filter %.png %.jpg %.jpeg,$(SOURCES))
DICOM_PNGS := $(foreach f,$(DICOM_SRC),$(RUN)/images/$(basename $(notdir $(f))).png)
RASTER_LINKS := $(foreach f,$(RASTER_SRC),$(RUN)/images/$(notdir $(f)))
SIZE_ROWS := $(foreach f,$(DICOM_SRC),$(RUN)/size/$(basename $(notdir $(f))).csv)
$(foreach f,$(DICOM_SRC),$(eval $(RUN)/images/$(basename $(notdir $(f))).png $(RUN)/size/$(basename $(notdir $(f))).csv: $(f)))
$(foreach f,$(RASTER_SRC),$(eval $(RUN)/images/$(notdir $(f)): $(f)))
endif

comma := ,
RADS_OPTS := $(if $(filter 1,$(RADS)),--annotators R8$(comma)R9$(comma)R10 --require-all)
TEST_OPTS := $(if $(VINDR_TEST),--test-csv $(VINDR_TEST))

.PHONY: all data images
all: data methods
images: $(DICOM_PNGS) $(RASTER_LINKS)
data: $(RUN)/train.fused.jsonl $(RUN)/val.fused.jsonl $(RUN)/test.fused.jsonl
	@for s in train val test; do \
		jq -rs --arg s $$s '"\($$s): \(length) images, \(map(.annotations | length) | add // 0) annotations, \(map(.objects | length) | add // 0) fused objects, \(map(.truth // [] | length) | add // 0) consensus boxes"' $(RUN)/$$s.fused.jsonl; \
	done

# WIDTH and the source folder are remembered (the stamps are at the end): a new one
# converts the DICOM files again.
$(DICOM_PNGS): $(RUN)/images.args
	@mkdir -p $(@D)
	scripts/dicom2png.sh $(filter %.dicom %.dcm,$^) $@ $(WIDTH)

# PNG and JPEG files are used as they are, through a link.
$(RASTER_LINKS):
	@mkdir -p $(@D)
	ln -sfn $(abspath $<) $@

# One line per DICOM image: its original columns and rows (the first, top-level ones: an
# icon image in a sequence has its own).
$(SIZE_ROWS):
	@mkdir -p $(@D)
	@wh=$$(dcmdump -s +P 0028,0011 +P 0028,0010 $< | awk '/^\(0028,0011\)/ { w = $$3 } /^\(0028,0010\)/ { h = $$3 } END { print w "," h }') \
		&& case "$$wh" in *[!0-9,]* | ,* | *,) echo "vindr.mk: $<: cannot read its columns and rows (dcmdump gave '$$wh')" >&2; exit 1 ;; esac \
		&& printf '%s,%s\n' $(basename $(@F)) $$wh > $@.tmp && mv $@.tmp $@

# The frames: DIR/sizes.csv's rows, then the DICOMs' (found, not listed: the list can be
# longer than a command line).
$(RUN)/sizes.csv: $(SIZE_ROWS) $(SIZES_IN)
	@mkdir -p $(@D)
	{ echo image_id,width,height; $(if $(SIZES_IN),tail -n +2 $(SIZES_IN) | grep -v '^[[:space:]]*$$';) \
		if [ -d $(RUN)/size ]; then find $(RUN)/size -name '*.csv' | LC_ALL=C sort | xargs -r cat; fi; } > $@.tmp \
		&& mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(RUN)/records.jsonl: $(CSV) $(VINDR_TEST) $(DICOM_PNGS) $(RASTER_LINKS) $(RUN)/sizes.csv $(RUN)/ingest.args $(INGEST)
	$(INGEST) vindr --csv $(CSV) $(TEST_OPTS) --images $(RUN)/images --sizes $(RUN)/sizes.csv $(RADS_OPTS) > $@.tmp \
		&& mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# The split, by image and stratified by label (split writes its parts atomically).
# A part left empty (too few images for the ratios) is an error, and the parts are removed.
check_parts = for p in $(1); do [ -s $(RUN)/$$p.jsonl ] || { echo "vindr.mk: the $$p split is empty ($$(wc -l < $<) images; $(2)): give more images or other ratios" >&2; rm -f $(foreach p,$(1),$(RUN)/$(p).jsonl); exit 1; }; done
ifeq ($(VINDR_TEST),)
$(RUN)/train.jsonl $(RUN)/val.jsonl $(RUN)/test.jsonl &: $(RUN)/records.jsonl $(RUN)/split.args $(SPLIT)
	$(SPLIT) $(STRATIFY) --ratios $(RATIOS) --names train,val,test --seed $(SEED) --prefix $(RUN)/ < $<
	@$(call check_parts,train val test,RATIOS=$(RATIOS))
else
$(RUN)/test.jsonl: $(RUN)/records.jsonl
	jq -c 'select(has("truth"))' $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }
	@$(call check_parts,test,VINDR_TEST names none of them)

$(RUN)/train.jsonl $(RUN)/val.jsonl &: $(RUN)/records.jsonl $(RUN)/split.args $(SPLIT)
	jq -c 'select(has("truth") | not)' $< > $(RUN)/trainval.jsonl.tmp \
		&& $(SPLIT) $(STRATIFY) --ratios $(VAL_RATIOS) --names train,val --seed $(SEED) --prefix $(RUN)/ < $(RUN)/trainval.jsonl.tmp; \
		rc=$$?; rm -f $(RUN)/trainval.jsonl.tmp; exit $$rc
	@$(call check_parts,train val,VAL_RATIOS=$(VAL_RATIOS))
endif

include pipelines/detect.mk

# What each stage was made with: a change redoes that stage and what follows it.
$(eval $(call stamp,$(RUN)/images.args,$(WIDTH) $(abspath $(VINDR))))
$(eval $(call stamp,$(RUN)/ingest.args,$(abspath $(CSV)) $(TEST_OPTS) $(RADS_OPTS) $(SIZES_IN)))
$(eval $(call stamp,$(RUN)/split.args,$(STRATIFY) $(if $(VINDR_TEST),$(VAL_RATIOS),$(RATIOS)) $(SEED)))

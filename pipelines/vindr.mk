# VinDr-CXR: DICOM to PNG (DCMTK), records, fused targets and splits.
#
#   make -f pipelines/vindr.mk CSV=train.csv DICOM=dicom/ [RUN=runs/vindr] [WIDTH=1024] [-j8]
#
# Each DICOM file becomes an 8-bit PNG (scripts/dicom2png.sh: VOI window or LUT applied,
# MONOCHROME1 inverted, scaled to WIDTH when given), in parallel under make -j. The
# original frames, read with dcmdump, go to sizes.csv so that the CSV's coordinates keep
# their meaning on the resized images. The records are then fused and split; RADS=1 keeps
# the Rads-VinDr-CXR subset (images read by exactly R8, R9 and R10).

CSV ?= train.csv
DICOM ?= dicom
RUN ?= runs/vindr
WIDTH ?=
RADS ?= 0
SEED ?= 1
INGEST ?= bin/ingest
FUSE ?= bin/fuse
SPLIT ?= bin/split

DICOMS := $(wildcard $(DICOM)/*.dicom $(DICOM)/*.dcm)
PNGS := $(patsubst %,$(RUN)/png/%.png,$(basename $(notdir $(DICOMS))))
SIZES := $(patsubst %,$(RUN)/size/%.csv,$(basename $(notdir $(DICOMS))))
RADS_ARGS := --annotators R8,R9,R10 --require-all
RADS_OPTS = $(if $(filter 1,$(RADS)),$(RADS_ARGS))

.PHONY: all png
all: $(RUN)/train.jsonl
png: $(PNGS)

$(RUN)/png/%.png: $(DICOM)/%.dicom
	@mkdir -p $(@D)
	scripts/dicom2png.sh $< $@ $(WIDTH)

$(RUN)/png/%.png: $(DICOM)/%.dcm
	@mkdir -p $(@D)
	scripts/dicom2png.sh $< $@ $(WIDTH)

# One line per image: its original columns and rows.
$(RUN)/size/%.csv: $(DICOM)/%.dicom
	@mkdir -p $(@D)
	@printf '%s,%s,%s\n' $* $$(dcmdump +P 0028,0011 $< | awk '{print $$3}') $$(dcmdump +P 0028,0010 $< | awk '{print $$3}') > $@

$(RUN)/size/%.csv: $(DICOM)/%.dcm
	@mkdir -p $(@D)
	@printf '%s,%s,%s\n' $* $$(dcmdump +P 0028,0011 $< | awk '{print $$3}') $$(dcmdump +P 0028,0010 $< | awk '{print $$3}') > $@

$(RUN)/sizes.csv: $(SIZES)
	@mkdir -p $(@D)
	{ echo image_id,width,height; cat $(SIZES); } > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(RUN)/records.jsonl: $(CSV) $(PNGS) $(RUN)/sizes.csv
	$(INGEST) vindr --csv $(CSV) --images $(RUN)/png --sizes $(RUN)/sizes.csv $(RADS_OPTS) > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(RUN)/fused.jsonl: $(RUN)/records.jsonl
	$(FUSE) --quiet --iou-thr 0.4 --report $(RUN)/agreement.json < $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(RUN)/train.jsonl: $(RUN)/fused.jsonl
	$(SPLIT) --stratify --ratios 0.8,0.1,0.1 --seed $(SEED) --prefix $(RUN)/ < $<

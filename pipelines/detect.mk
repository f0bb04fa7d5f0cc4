# The method half of a dataset's pipeline, included by pipelines/medmnist.mk: train each
# method on RUN's fused splits, predict the test split, score it against its truth with
# bootstrap confidence intervals, and summarise.
#
#   METHODS    methods to train [baseline wbf-earl em-earl]:
#                baseline   every annotator's box, weight 1 (the paper's baseline)
#                <name>     one annotator's boxes alone (a name in ANNOTATORS [R1 R2 R3])
#                ensemble   the annotators' models, their detections fused (fuse --ensemble)
#                wbf        the fused boxes, weight 1 (WBF without EARL)
#                mv-earl    majority-vote boxes (fuse --method mv), weighted by their votes
#                wbf-earl   the fused boxes, each weighted by its votes (WBF + EARL)
#                em         EM's objects (fuse --method em) that are more likely real than not
#                           (exists >= 0.5), one-hot on the most probable class, weight 1
#                em-earl    EM's objects, soft class targets (probs), each weighted by its conf
#                           (train --weight probs)
#                gold       the true boxes (an upper bound, where the data has them)
#   DATA       where the fused splits are [RUN]
#   EPOCHS IMG MODEL DEVICE SEED   train's --epochs --size --preset --device --seed
#   RECIPE     train's other options [the fast CPU recipe of the README]
#   LAUNCH     what starts each train step: "mpirun -np 2", srun, ... [empty: one process].
#              train's --batch is per process: the global batch is RECIPE's times the
#              processes (--sync-bn in RECIPE for batch norm over it). Nothing else runs under it.
#   BOOT       bootstrap resamplings of the test images for the CIs [1000]
#   SCORE_TRUTH  the test records' field scored against [truth]; VAL_TRUTH train's --val-truth [truth]
#   REFERENCE  what SCORE_TRUTH is, in words, for the summary [the true boxes]
#   FUSION_SCORE  the fused targets scored as detections, for the summary [DATA/test.fusion-score.json; empty: none]
#   EM_FUSION_SCORE  the same for EM's targets [DATA/test.em-fusion-score.json where FUSION_SCORE is set and em or em-earl trained]
#   FUSE_IOU   fuse's --iou-thr for the splits, majority vote and the ensemble [0.4]; FUSE_OPTS the splits' other fuse options
#
# Outputs in RUN (targets: methods, the default, and scores, without the pictures): models/<method>.safetensors and .log.jsonl, test.<method>.pred.jsonl,
# test.<method>.score.json and .curves.jsonl, summary.json and summary.md, and with
# gnuplot training.png (loss and validation mAP per epoch) and pr-curves.png, and draw's
# contact sheets sheet-fusion.png (annotations and fused boxes) and sheet-predictions.png.
# A model is retrained when its training arguments change (models/<method>.args: also its
# training file and VAL_TRUTH), and the scores when score's do (score.args), and only then.
# The fragment makes RUN/<split>.jsonl; the fused splits are made here.

# Three methods at 24 epochs fit in 30 minutes on 2 cores (24 min 30 s in a fresh clone),
# and 24 epochs bring each one's validation mAP@0.4 to within 0.007 over its last 4 epochs
# (docs/experiments.md); at 14 it was still rising at the last epoch.
METHODS ?= baseline wbf-earl em-earl
DATA ?= $(RUN)
ANNOTATORS ?= R1 R2 R3
EPOCHS ?= 24
IMG ?= 128
MODEL ?= cpu
DEVICE ?= auto
BOOT ?= 1000
RECIPE ?= --optimizer adamw --lr0 0.002 --cls-gain 4 --batch 16 --nominal-batch 16 --warmup-epochs 1 --mosaic 0.5
TRAIN ?= bin/train
LAUNCH ?=
SCORE ?= bin/score
FUSE ?= bin/fuse
PREDICT ?= bin/predict
GNUPLOT ?= gnuplot
DRAW ?= bin/draw
SHEET_N ?= 16
# the predictions drawn against the truth: WBF + EARL's where it is trained
SHEET_METHOD ?= $(if $(filter wbf-earl,$(METHODS)),wbf-earl,$(firstword $(METHODS)))
DATASET ?= medmnist
SCORE_TRUTH ?= truth
VAL_TRUTH ?= truth
REFERENCE ?= the true boxes
FUSION_SCORE ?= $(DATA)/test.fusion-score.json
# EM's fused targets of the test split scored the same way, where WBF's are and EM is trained
EM_FUSION_SCORE ?= $(if $(and $(FUSION_SCORE),$(filter em em-earl,$(METHODS))),$(DATA)/test.em-fusion-score.json)
FUSE_IOU ?= 0.4
FUSE_OPTS ?=

METHOD_baseline := --targets annotations --weight none
METHOD_wbf := --targets objects --weight none
METHOD_wbf-earl := --targets objects --weight votes
METHOD_gold := --targets truth --weight none
METHOD_mv-earl := --targets objects --weight votes
METHOD_em := --targets objects --weight none
METHOD_em-earl := --targets objects --weight probs
$(foreach a,$(ANNOTATORS),$(eval METHOD_$(a) := --targets annotations --annotator $(a) --weight none)$(eval LABEL_$(a) := $(a) alone))
LABEL_baseline := Baseline (all annotations)
LABEL_wbf := WBF
LABEL_wbf-earl := WBF + EARL
LABEL_gold := Gold labels
LABEL_mv-earl := MV + EARL
LABEL_em := EM
LABEL_em-earl := EM + EARL (soft targets)
LABEL_ensemble := Ensemble of annotator models

train_args = --quiet --preset $(MODEL) --size $(IMG) --epochs $(EPOCHS) --seed $(SEED) --device $(DEVICE) $(RECIPE) $(METHOD_$(1))

# ensemble has no model of its own: it needs the annotators' models
KNOWN_METHODS := $(strip baseline $(ANNOTATORS) $(if $(ANNOTATORS),ensemble) wbf mv-earl wbf-earl em em-earl gold)
$(foreach m,$(METHODS),$(if $(filter $(m),$(KNOWN_METHODS)),,$(error unknown method '$(m)' in METHODS ($(KNOWN_METHODS)))))
# The methods with a model: ensemble trains its members, the annotators' models.
TRAINED := $(sort $(filter-out ensemble,$(METHODS)) $(if $(filter ensemble,$(METHODS)),$(ANNOTATORS)))
train_file = $(DATA)/train.$(if $(filter mv-earl,$(1)),mv,$(if $(filter em,$(1)),em-real,$(if $(filter em-earl,$(1)),em,fused))).jsonl

# stamp(FILE,TEXT): a rule that writes TEXT into FILE when it differs from what FILE holds,
# so that what depends on FILE is rebuilt when TEXT changes. FILE is compared when the
# makefile is read and written only by the rule, so make -n and -q change nothing.
.PHONY: FORCE
FORCE:
define stamp
$(1): $$(if $$(shell printf '%s\n' '$(2)' | cmp -s - $(1) 2>/dev/null || echo stale),FORCE)
	@mkdir -p $$(@D) && printf '%s\n' '$(2)' > $$@
endef

# Each method's training arguments, its training file and validation truth: the model
# depends on them; and score's arguments: the scores depend on them.
$(foreach m,$(TRAINED),$(eval $(call stamp,$(RUN)/models/$(m).args,$(if $(LAUNCH),$(LAUNCH) )$(call train_args,$(m)) --val-truth $(VAL_TRUTH) < $(call train_file,$(m)))))
score_args = --truth $(SCORE_TRUTH) --bootstrap $(BOOT) --seed $(SEED)
$(eval $(call stamp,$(RUN)/score.args,$(score_args)))

SCORES := $(foreach m,$(METHODS),$(RUN)/test.$(m).score.json)
PICTURES := $(RUN)/training.png $(RUN)/pr-curves.png $(RUN)/sheet-fusion.png $(RUN)/sheet-predictions.png

.PHONY: methods scores
.SECONDARY:   # keep the predictions and the other files made on the way
.SECONDEXPANSION:
scores: $(SCORES)
methods: $(RUN)/summary.md $(PICTURES)

# Trained under a temporary name, renamed when the run ends well.
$(RUN)/models/%.safetensors: $$(call train_file,$$*) $(DATA)/val.fused.jsonl $(RUN)/models/%.args $(TRAIN)
	$(LAUNCH) $(TRAIN) $(call train_args,$*) --val $(DATA)/val.fused.jsonl --val-truth $(VAL_TRUTH) --out $(RUN)/models/$*.part.safetensors \
		< $(call train_file,$*) > $(RUN)/models/$*.log.jsonl.tmp \
		&& mv $(RUN)/models/$*.log.jsonl.tmp $(RUN)/models/$*.log.jsonl \
		&& mv $(RUN)/models/$*.part.safetensors.ckpt $(RUN)/models/$*.safetensors.ckpt \
		&& mv $(RUN)/models/$*.part.safetensors $@ \
		|| { rm -f $(RUN)/models/$*.part.safetensors* $(RUN)/models/$*.log.jsonl.tmp; exit 1; }

$(RUN)/test.%.pred.jsonl: $(RUN)/models/%.safetensors $(DATA)/test.fused.jsonl $(PREDICT)
	$(PREDICT) --quiet --device $(DEVICE) --model $< < $(DATA)/test.fused.jsonl > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# The ensemble: the annotators' models' detections, fused with WBF as the paper fuses them.
$(RUN)/test.ensemble.pred.jsonl: $(foreach a,$(ANNOTATORS),$(RUN)/test.$(a).pred.jsonl) $(FUSE)
	$(FUSE) --quiet --ensemble --iou-thr $(FUSE_IOU) $(filter %.pred.jsonl,$^) > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# The fused splits (WBF), with each split's agreement report.
$(RUN)/%.fused.jsonl: $(RUN)/%.jsonl $(FUSE)
	$(FUSE) --quiet --iou-thr $(FUSE_IOU) $(FUSE_OPTS) --report $(RUN)/$*.agreement.json < $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# EM's targets (fuse --method em) for em-earl, with the estimated matrices and each
# annotator's accuracy and box spread; and for em, the objects more likely real than not.
$(DATA)/%.em.jsonl: $(DATA)/%.jsonl $(FUSE)
	$(FUSE) --quiet --method em --iou-thr $(FUSE_IOU) --matrices $(DATA)/$*.em-matrices.json --report $(DATA)/$*.em-report.json \
		< $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }
$(DATA)/test.em-fusion-score.json: $(DATA)/test.em.jsonl $(SCORE)
	jq -c '.detections = [.objects[] | {label: .label, box: .box, score: .conf}]' $< | $(SCORE) > $@.tmp && mv $@.tmp $@ \
		|| { rm -f $@.tmp; exit 1; }
$(DATA)/%.em-real.jsonl: $(DATA)/%.em.jsonl
	jq -c '.objects |= map(select(.exists >= 0.5))' $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# Majority-vote targets (fuse --method mv) for mv-earl.
$(DATA)/%.mv.jsonl: $(DATA)/%.jsonl $(FUSE)
	$(FUSE) --quiet --method mv --iou-thr $(FUSE_IOU) < $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(RUN)/test.%.score.json: $(RUN)/test.%.pred.jsonl $(RUN)/score.args $(SCORE)
	$(SCORE) $(score_args) --curves $(RUN)/test.$*.curves.jsonl.tmp < $< > $@.tmp \
		&& mv $(RUN)/test.$*.curves.jsonl.tmp $(RUN)/test.$*.curves.jsonl && mv $@.tmp $@ \
		|| { rm -f $@.tmp $(RUN)/test.$*.curves.jsonl.tmp; exit 1; }

# summary.json: per method, mAP@0.4 and mAP@[.5:.95] on the test split with 95% CIs.
$(RUN)/summary.json: $(SCORES) $(FUSION_SCORE) $(EM_FUSION_SCORE) pipelines/summary.jq
	jq -n -f pipelines/summary.jq --arg dataset '$(DATASET)' --arg names '$(strip $(METHODS))' \
		$(foreach m,$(METHODS),--arg 'l_$(m)' '$(LABEL_$(m))') --argjson epochs '$(EPOCHS)' --argjson img '$(IMG)' \
		--arg model '$(MODEL)' --argjson seed '$(SEED)' --argjson boot '$(BOOT)' \
		--arg truth '$(SCORE_TRUTH)' --arg reference "$(REFERENCE)" \
		$(if $(FUSION_SCORE),--slurpfile fusion $(FUSION_SCORE),--argjson fusion '[]') \
		$(if $(EM_FUSION_SCORE),--slurpfile em_fusion $(EM_FUSION_SCORE),--argjson em_fusion '[]') $(SCORES) > $@.tmp \
		&& mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(RUN)/summary.md: $(RUN)/summary.json pipelines/summary-md.jq
	jq -r -f pipelines/summary-md.jq $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# Contact sheets (draw): the test split's first SHEET_N images with every annotator's boxes
# and the fused ones; and with SHEET_METHOD's detections against the reference (SCORE_TRUTH).
$(RUN)/sheet-fusion.png: $(DATA)/test.fused.jsonl $(DRAW)
	$(DRAW) --out $@ --n $(SHEET_N) --layers annotations,objects < $<

$(RUN)/sheet-predictions.png: $(RUN)/test.$(SHEET_METHOD).pred.jsonl $(DRAW)
	$(DRAW) --out $@ --n $(SHEET_N) --layers detections,$(SCORE_TRUTH) < $<

# Pictures (gnuplot-nox): loss and validation mAP@0.4 per epoch; precision against recall
# at IoU 0.4, averaged over the classes with truth. Each data file's first row names it.
GNUPLOT_CHECK = @command -v $(GNUPLOT) > /dev/null || { echo "$@: gnuplot is missing (make deps installs gnuplot-nox)" >&2; exit 1; }
$(RUN)/training.png: $(foreach m,$(TRAINED),$(RUN)/models/$(m).safetensors)
	$(GNUPLOT_CHECK)
	@$(foreach m,$(TRAINED),{ echo 'epoch "$(LABEL_$(m))" "$(LABEL_$(m))"'; \
		jq -r '"\(.epoch) \(.loss) \(.val_map40)"' $(RUN)/models/$(m).log.jsonl; } > $(RUN)/models/$(m).curve.dat &&) true
	$(GNUPLOT) -e "set terminal pngcairo size 1000,420 noenhanced; set output '$@.tmp'; set multiplot layout 1,2; \
		set xlabel 'epoch'; set ylabel 'training loss'; set key top right; \
		plot for [f in '$(foreach m,$(TRAINED),$(RUN)/models/$(m).curve.dat)'] f using 1:2 with linespoints title columnhead(2); \
		set ylabel 'validation mAP@0.4'; set key bottom right; set yrange [0:1]; \
		plot for [f in '$(foreach m,$(TRAINED),$(RUN)/models/$(m).curve.dat)'] f using 1:3 with linespoints title columnhead(3); \
		unset multiplot" && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(RUN)/pr-curves.png: $(SCORES) pipelines/pr-curve.jq
	$(GNUPLOT_CHECK)
	@$(foreach m,$(METHODS),{ echo 'recall "$(LABEL_$(m))"'; jq -s -r -f pipelines/pr-curve.jq $(RUN)/test.$(m).curves.jsonl; } \
		> $(RUN)/test.$(m).pr.dat &&) true
	$(GNUPLOT) -e "set terminal pngcairo size 560,460 noenhanced; set output '$@.tmp'; set xlabel 'recall'; \
		set ylabel 'precision (mean over classes)'; set xrange [0:1]; set yrange [0:1.02]; set key bottom left; \
		set title 'test split, IoU 0.4'; \
		plot for [f in '$(foreach m,$(METHODS),$(RUN)/test.$(m).pr.dat)'] f using 1:2 with lines lw 2 title columnhead(2)" \
		&& mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# Truth inference alone, no training: how well each method's fused targets recover the
# true digits of simulated sets.
#
#   make -f pipelines/truth.mk [RUN=results/truth] [N=5000] [SEEDS="101 102 103"]
#        [REGIMES="paper low mixed"] [FP_RATE=0.2]
#
# Regimes (simulate's default canvases, --fp-rate FP_RATE):
#   paper   3 annotators of proficiency 0.8 (the paper's setting)
#   low     3 annotators of proficiency 0.6
#   mixed   5 annotators of proficiency 0.9, 0.8, 0.6, 0.5, 0.4
# Methods: mv (fuse --method mv), wbf (fuse), wbf1 (fuse --one-per-annotator), em (fuse
# --method em) and ceiling (the Bayes posterior from the true matrices and the true
# clusters: the only method that reads truth_index). Each set is simulated in
# RUN/<regime>/s<seed>/ with its true matrices (true.json); each method's objects are
# scored as detections (score = conf) against the truth with score --label-accuracy.
# RUN/table.md and table.json: per regime and method, mAP@0.4, mAP@[.5:.95] and the label
# accuracy of the matched objects, mean ± sd over the seeds, and the mean absolute error
# of em's matrices (its real-class rows) against the true ones; RUN/matrices.png: em's
# matrices against the true ones, mixed regime, first seed (gnuplot).

RUN ?= results/truth
N ?= 5000
SEEDS ?= 101 102 103
REGIMES ?= paper low mixed
FP_RATE ?= 0.2
MNIST ?= data/mnist/images-idx3-ubyte
SIMULATE ?= bin/simulate
FUSE ?= bin/fuse
SCORE ?= bin/score
CEILING ?= bin/ceiling
GNUPLOT ?= gnuplot
TRUTH_METHODS := mv wbf wbf1 em ceiling

SIM_paper := --experts 3 --proficiency 0.8
SIM_low := --experts 3 --proficiency 0.6
SIM_mixed := --experts 5 --proficiency 0.9,0.8,0.6,0.5,0.4
LABEL_paper := 3 annotators, p = 0.8 (as in the paper)
LABEL_low := 3 annotators, p = 0.6
LABEL_mixed := 5 annotators, p = 0.9, 0.8, 0.6, 0.5, 0.4

$(foreach r,$(REGIMES),$(if $(SIM_$(r)),,$(error unknown regime '$(r)' in REGIMES (paper low mixed))))

SETS := $(foreach r,$(REGIMES),$(foreach s,$(SEEDS),$(RUN)/$(r)/s$(s)))
SCORES := $(foreach d,$(SETS),$(foreach m,$(TRUTH_METHODS),$(d)/$(m).score.json))
MAES := $(foreach d,$(SETS),$(d)/em.mae.json)
PICTURE_SET := $(RUN)/mixed/s$(firstword $(SEEDS))

# A set's regime and seed from its folder RUN/<regime>/s<seed>.
regime_of = $(notdir $(patsubst %/,%,$(dir $(1))))
seed_of = $(patsubst s%,%,$(notdir $(1)))

.PHONY: truth
.SECONDARY:
truth: $(RUN)/table.md $(if $(filter mixed,$(REGIMES)),$(RUN)/matrices.png)
	@cat $(RUN)/table.md

# Each stage writes a temporary name and renames it, so a failed run leaves nothing.
$(RUN)/%/sim.jsonl: $(SIMULATE) $(MNIST)
	@mkdir -p $(@D)
	$(SIMULATE) --quiet --mnist $(MNIST) --n $(N) --seed $(call seed_of,$(@D)) --fp-rate $(FP_RATE) \
		$(SIM_$(call regime_of,$(@D))) --matrices $(@D)/true.json --out $(@D)/images > $@.tmp && mv $@.tmp $@ \
		|| { rm -f $@.tmp; exit 1; }

$(RUN)/%/mv.jsonl: $(RUN)/%/sim.jsonl $(FUSE)
	$(FUSE) --quiet --method mv < $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }
$(RUN)/%/wbf.jsonl: $(RUN)/%/sim.jsonl $(FUSE)
	$(FUSE) --quiet < $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }
$(RUN)/%/wbf1.jsonl: $(RUN)/%/sim.jsonl $(FUSE)
	$(FUSE) --quiet --one-per-annotator < $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }
$(RUN)/%/em.jsonl: $(RUN)/%/sim.jsonl $(FUSE)
	$(FUSE) --method em --matrices $(@D)/em.matrices.json --report $(@D)/em.report.json < $< > $@.tmp 2> $(@D)/em.log \
		&& mv $@.tmp $@ || { cat $(@D)/em.log >&2; rm -f $@.tmp; exit 1; }
$(RUN)/%/ceiling.jsonl: $(RUN)/%/sim.jsonl $(CEILING)
	$(CEILING) --quiet --matrices $(@D)/true.json < $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# The objects as detections of the truth, score = conf.
$(RUN)/%.score.json: $(RUN)/%.jsonl $(SCORE)
	jq -c '.detections = [.objects[] | {label: .label, box: .box, score: .conf}]' $< | $(SCORE) --label-accuracy > $@.tmp \
		&& mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# em's matrices against the true ones: the mean absolute error over the real-class rows.
$(RUN)/%/em.mae.json: $(RUN)/%/em.jsonl pipelines/truth-mae.jq
	jq -n -f pipelines/truth-mae.jq --slurpfile est $(@D)/em.matrices.json --slurpfile true $(@D)/true.json > $@.tmp \
		&& mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(RUN)/table.json: $(SCORES) $(MAES) pipelines/truth-table.jq
	jq -n -f pipelines/truth-table.jq --arg run '$(RUN)' --arg regimes '$(REGIMES)' --arg seeds '$(SEEDS)' \
		--arg methods '$(TRUTH_METHODS)' --argjson n '$(N)' --argjson fp '$(FP_RATE)' \
		$(foreach r,$(REGIMES),--arg 'l_$(r)' '$(LABEL_$(r))') \
		$(foreach r,$(REGIMES),$(foreach s,$(SEEDS),$(foreach m,$(TRUTH_METHODS),$(RUN)/$(r)/s$(s)/$(m).score.json) $(RUN)/$(r)/s$(s)/em.mae.json)) \
		> $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(RUN)/table.md: $(RUN)/table.json pipelines/truth-table-md.jq
	jq -r -f pipelines/truth-table-md.jq $< > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# Heat maps: the true matrices (top) and em's (bottom), one column per annotator; rows are
# the true class (no_obj last), columns the given label (no_obj last).
$(RUN)/matrices.png: $(PICTURE_SET)/em.jsonl $(PICTURE_SET)/sim.jsonl
	@command -v $(GNUPLOT) > /dev/null || { echo "$@: gnuplot is missing (make deps installs gnuplot-nox)" >&2; exit 1; }
	@for k in 0 1 2 3 4; do \
		jq -r ".experts[$$k].matrix[] | map(tostring) | join(\" \")" $(PICTURE_SET)/true.json > $(PICTURE_SET)/true.$$k.dat && \
		jq -r ".experts[$$k].matrix[] | map(tostring) | join(\" \")" $(PICTURE_SET)/em.matrices.json > $(PICTURE_SET)/em.$$k.dat \
		|| exit 1; \
	done
	$(GNUPLOT) -e "set terminal pngcairo size 1500,640 noenhanced; set output '$@.tmp'; \
		set multiplot layout 2,5 title 'mixed regime, seed $(firstword $(SEEDS)): P(given label | true class), true (top) and estimated by fuse --method em (bottom)'; \
		set palette defined (0 'white', 0.5 '#6baed6', 1 '#08306b'); set cbrange [0:1]; unset colorbox; \
		set xrange [-0.5:10.5]; set yrange [10.5:-0.5]; set size ratio 1; \
		set xtics ('0' 0, '2' 2, '4' 4, '6' 6, '8' 8, 'no' 10) font ',8'; set ytics ('0' 0, '2' 2, '4' 4, '6' 6, '8' 8, 'no' 10) font ',8'; \
		do for [k=0:4] { set title sprintf('R%d (p = %s), true', k + 1, word('0.9 0.8 0.6 0.5 0.4', k + 1)); \
			plot sprintf('$(PICTURE_SET)/true.%d.dat', k) matrix with image notitle }; \
		do for [k=0:4] { set title sprintf('R%d, estimated', k + 1); \
			plot sprintf('$(PICTURE_SET)/em.%d.dat', k) matrix with image notitle }; \
		unset multiplot" && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

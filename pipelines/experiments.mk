# The paper's comparison on one dataset, over several training seeds:
#
#   make -f pipelines/experiments.mk [RUN=results/medmnist] [SEEDS="1 2 3"] [EXP_METHODS=...]
#        (and the variables of pipelines/medmnist.mk and detect.mk)
#
# The data (simulated with SEED, fused) are made once in RUN; each seed then trains every
# method of EXP_METHODS in RUN/seed-<s> (detect.mk, training seed s) and scores it on the
# test split. table.md and table.json give mean ± standard deviation over the seeds, laid
# out like the paper's tables, and say whether WBF + EARL beat the baseline.

RUN ?= results/medmnist
SEEDS ?= 1 2 3
ANNOTATORS ?= R1 R2 R3
EXP_METHODS ?= baseline $(ANNOTATORS) ensemble wbf mv-earl wbf-earl gold
FRAGMENT ?= pipelines/medmnist.mk

.PHONY: experiments
experiments:
	$(MAKE) --no-print-directory -f $(FRAGMENT) RUN=$(RUN) data
	@for s in $(SEEDS); do \
		$(MAKE) --no-print-directory -f $(FRAGMENT) RUN=$(RUN)/seed-$$s DATA=$(RUN) SEED=$$s METHODS="$(EXP_METHODS)" scores || exit 1; \
	done
	jq -n -f pipelines/table.jq --arg names '$(EXP_METHODS)' --arg seeds '$(SEEDS)' --arg run '$(RUN)' \
		$(foreach s,$(SEEDS),$(foreach m,$(EXP_METHODS),$(RUN)/seed-$(s)/test.$(m).score.json)) > $(RUN)/table.json.tmp \
		&& mv $(RUN)/table.json.tmp $(RUN)/table.json || { rm -f $(RUN)/table.json.tmp; exit 1; }
	jq -r -f pipelines/table-md.jq $(RUN)/table.json > $(RUN)/table.md.tmp && mv $(RUN)/table.md.tmp $(RUN)/table.md \
		|| { rm -f $(RUN)/table.md.tmp; exit 1; }
	@cat $(RUN)/table.md

# The paper's comparison on one dataset, over several training seeds:
#
#   make -f pipelines/experiments.mk [DATASET=medmnist|vindr|vindr-rads] [RUN=results/<dataset>]
#        [SEEDS="1 2 3"] [EXP_METHODS=...] [PAPER=FILE]
#        (and the variables of the dataset's fragment, pipelines/medmnist.mk or vindr.mk, and of detect.mk)
#
# The data (simulated with SEED or ingested, fused and split) are made once in RUN; each seed then trains every
# method of EXP_METHODS in RUN/seed-<s> (detect.mk, training seed s) and scores it on the
# test split. table.md and table.json give mean ± standard deviation over the seeds, laid
# out like the paper's tables, and say whether WBF + EARL beat the baseline; with PAPER, the
# paper's reported numbers stand in a column of their own.

DATASET ?= medmnist
RUN ?= results/$(DATASET)
SEEDS ?= 1 2 3
FRAGMENT ?= $(if $(filter medmnist,$(DATASET)),pipelines/medmnist.mk,pipelines/vindr.mk)
# One model per annotator where every image has the same annotators (MED-MNIST's R1-R3,
# Rads-VinDr-CXR's R8-R10; VinDr-CXR's 17 radiologists read three images each at random),
# and the gold labels where the data has them.
RADS ?= $(if $(filter vindr-rads,$(DATASET)),1,0)
ANNOTATORS ?= $(if $(filter medmnist,$(DATASET)),R1 R2 R3,$(if $(filter 1,$(RADS)),R8 R9 R10))
EXP_METHODS ?= baseline $(if $(ANNOTATORS),$(ANNOTATORS) ensemble) wbf mv-earl wbf-earl em em-earl $(if $(filter medmnist,$(DATASET)),gold)
# The paper's reported numbers, printed beside ours: JSON {"<method>": {"map40": x, "map50_95": y}}.
PAPER ?=
REFERENCE ?= $(if $(filter medmnist,$(DATASET)),the true digits,$(if $(VINDR_TEST),the radiologists' consensus,the held-out split's fused boxes (no VINDR_TEST was given)))

.PHONY: experiments
# PAPER is checked before anything is trained.
PAPER_CHECK := type == "object" and all(.[]; type == "object" and all(.[]; type == "number" or . == null))

experiments:
	@if [ -n "$(PAPER)" ]; then jq -e '$(PAPER_CHECK)' "$(PAPER)" > /dev/null 2>&1 \
		|| { echo "experiments.mk: PAPER=$(PAPER): not a JSON object of method -> {map40, map50_95} numbers" >&2; exit 1; }; fi
	$(MAKE) --no-print-directory -f $(FRAGMENT) RUN=$(RUN) data
	@for s in $(SEEDS); do \
		$(MAKE) --no-print-directory -f $(FRAGMENT) RUN=$(RUN)/seed-$$s DATA=$(RUN) SEED=$$s METHODS="$(EXP_METHODS)" scores || exit 1; \
	done
	jq -n -f pipelines/table.jq --arg names '$(strip $(EXP_METHODS))' --arg seeds '$(SEEDS)' --arg run '$(RUN)' --arg reference "$(REFERENCE)" \
		$(if $(PAPER),--slurpfile paper $(PAPER),--argjson paper '[]') \
		$(foreach s,$(SEEDS),$(foreach m,$(EXP_METHODS),$(RUN)/seed-$(s)/test.$(m).score.json)) > $(RUN)/table.json.tmp \
		&& mv $(RUN)/table.json.tmp $(RUN)/table.json || { rm -f $(RUN)/table.json.tmp; exit 1; }
	jq -r -f pipelines/table-md.jq $(RUN)/table.json > $(RUN)/table.md.tmp && mv $(RUN)/table.md.tmp $(RUN)/table.md \
		|| { rm -f $(RUN)/table.md.tmp; exit 1; }
	@cat $(RUN)/table.md

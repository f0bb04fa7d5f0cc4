# MED-MNIST (Le et al., IEEE Access 2023): simulated multi-annotator digit detection.
#
#   make -f pipelines/medmnist.mk [RUN=runs/medmnist] [PRESET=default|paper] [SEED=1]
#        [TRAIN_N=5000] [VAL_N=1000] [TEST_N=1000] [data | methods | all]
#
# Train, val and test are drawn from disjoint MNIST digits (0-6999, 7000-8499,
# 8500-9999 of data/mnist) and consecutive image indices of one seed (ids med-000000 on),
# so the three splits share the same experts (the same transition matrices) but no digit
# and no canvas.
# Each split is then fused: "objects" holds the annotators' fused boxes with their
# agreement (WBF, iou_thr 0.4, as in the paper), and the fused targets of the test split
# are scored against the true digits (test.fusion-score.json): how well truth inference
# alone recovers the truth. That is the target `data`; `methods` (pipelines/detect.mk)
# trains, predicts, scores and summarises; `all` (the default) does both.

RUN ?= runs/medmnist
PRESET ?= default
SEED ?= 1
TRAIN_N ?= 5000
VAL_N ?= 1000
TEST_N ?= 1000
MNIST ?= data/mnist/images-idx3-ubyte
SIMULATE ?= bin/simulate
FUSE ?= bin/fuse
SCORE ?= bin/score
SIM_OPTS ?=

SIM = $(SIMULATE) --quiet --mnist $(MNIST) --preset $(PRESET) --seed $(SEED) $(SIM_OPTS)

.PHONY: all data
all: data methods
data: $(RUN)/train.fused.jsonl $(RUN)/val.fused.jsonl $(RUN)/test.fused.jsonl $(RUN)/test.fusion-score.json
	@for s in train val test; do \
		jq -rs --arg s $$s '"\($$s): \(length) images, \(map(.truth | length) | add // 0) digits, \(map(.annotations | length) | add // 0) annotations, \(map(.objects | length) | add // 0) fused objects"' $(RUN)/$$s.fused.jsonl; \
	done
	@jq -r '"test: fused targets against the true digits: mAP@0.4 \(.map40), mAP@[.5:.95] \(.map50_95)"' $(RUN)/test.fusion-score.json

# Each split is written to a temporary name and renamed, so a failed run leaves nothing.
$(RUN)/train.jsonl: $(SIMULATE) $(MNIST)
	@mkdir -p $(RUN)
	$(SIM) --digits 0:7000 --first 0 --n $(TRAIN_N) --out $(RUN)/images/train \
		--matrices $(RUN)/matrices.json > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(RUN)/val.jsonl: $(SIMULATE) $(MNIST)
	@mkdir -p $(RUN)
	$(SIM) --digits 7000:8500 --first $(TRAIN_N) --n $(VAL_N) --out $(RUN)/images/val > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(RUN)/test.jsonl: $(SIMULATE) $(MNIST)
	@mkdir -p $(RUN)
	$(SIM) --digits 8500:10000 --first $$(( $(TRAIN_N) + $(VAL_N) )) --n $(TEST_N) --out $(RUN)/images/test > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# The fused objects, with their agreement as the score, taken as detections of the truth.
$(RUN)/test.fusion-score.json: $(RUN)/test.fused.jsonl $(SCORE)
	jq -c '.detections = [.objects[] | {label: .label, box: .box, score: .conf}]' $< | $(SCORE) > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

REFERENCE ?= the true digits

include pipelines/detect.mk

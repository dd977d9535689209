# CoEdge developer entry points. On a fresh Debian 12 machine:
#   make demo   installs what is needed, builds, and runs the main job
#   make test   installs what is needed, builds, and runs every test
# Every target is safe to re-run.

BUILD    ?= build
JOBS     ?= $(shell nproc)
CMAKE    ?= cmake
PYTHON   ?= /usr/bin/python3
COEDGE   := $(BUILD)/bin/coedge
PREFIX   ?= /usr/local

# Debian packages the project needs, to build, test, benchmark and plot; OpenCV for
# inference, python3-onnx and numpy to generate the ONNX models at build time; ffmpeg to
# encode and serve the stream sensor tests' H.264 clip; libfastrtps-dev and libfastcdr-dev
# (Fast DDS, ROS 2's default middleware) for the tests' ROS 2 peer only (tests/integration/ros2).
# clang and libclang-rt-14-dev (libFuzzer, clang's sanitizers) for the fuzz targets (make fuzz).
# libtorch-dev for the torch backend plugin (lib/coedge/coedge_infer_torch.so), python3-torch
# and python3-torchvision to build the models in PyTorch and export both formats from them.
# libssl-dev (libcrypto) for `coedge keys`, the DDS Security keystore (src/security), and
# openssl, the command line its tests verify that keystore with. ninja-build: the presets'
# generator (the same cold build took 12.8 min with it, 16.0 with Make; README, "Continuous
# integration").
PACKAGES := g++ make cmake ninja-build pkg-config libyaml-cpp-dev libcli11-dev nlohmann-json3-dev \
            libgtest-dev libgmock-dev libbenchmark-dev gnuplot-nox \
            libopencv-dev python3-onnx python3-numpy python3-jsonschema \
            bubblewrap prometheus-cpp-dev \
            cyclonedds-dev cyclonedds-tools libiperf-dev iperf3 iproute2 \
            ffmpeg prometheus libfastrtps-dev libfastcdr-dev \
            libtorch-dev python3-torch python3-torchvision \
            clang libclang-rt-14-dev libssl-dev openssl

# $(call configure,PRESET,DIR): cmake --preset PRESET into DIR. The presets generate for
# Ninja; cmake refuses to switch a configured folder's generator, so one an older checkout
# configured for Make is configured afresh (its cache and CMakeFiles/ removed, nothing else).
define configure
	@if [ -f $(2)/CMakeCache.txt ] && ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' $(2)/CMakeCache.txt; then \
	  echo "$(2)/ was configured for another generator: configuring it afresh for Ninja"; \
	  rm -rf $(2)/CMakeCache.txt $(2)/CMakeFiles; \
	fi
	$(CMAKE) --preset $(1) -B $(2)
endef

.PHONY: all setup build install test asan tsan lto fuzz fuzz-smoke check-layers demo bench clean help

all: build

help:
	@echo "make setup   install the Debian packages the project needs (needs root; idempotent)"
	@echo "make build   configure and build into $(BUILD)/"
	@echo "make install build, then install into $(PREFIX) (PREFIX=DIR to choose; DESTDIR=DIR to stage; docs/ARCHITECTURE.md, Installed layout)"
	@echo "make test    setup + build + every test (ctest, labels unit/integration/slow)"
	@echo "make asan    build and run the tests under AddressSanitizer + UBSan"
	@echo "make tsan    run the parallel sweep (src/sim/sweep.cc, 'coedge sweep') under ThreadSanitizer"
	@echo "make lto     build the coedge command with LTO, ODR violations as errors (build-lto/)"
	@echo "make fuzz    build the libFuzzer targets of fuzz/ with clang, ASan and UBSan (build-fuzz/)"
	@echo "make fuzz-smoke  run each fuzz target on its seed corpus for FUZZ_SECONDS (default 15) s; fails on any finding"
	@echo "make check-layers  check that every #include stays within its target's links"
	@echo "make demo    setup + build + the lamppost experiment run for real on an emulated cluster (root; ~6 min)"
	@echo "make bench   setup + build + the benchmarks (docs/PERFORMANCE.md)"

# Installs only what is missing, so a provisioned machine needs no network.
setup:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing:" $$missing; \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "All build dependencies are installed."; fi

$(BUILD)/CMakeCache.txt:
	$(call configure,default,$(BUILD))

build: setup $(BUILD)/CMakeCache.txt
	$(CMAKE) --build $(BUILD) -j $(JOBS)

# The programs, the worker SDK, the examples, the models and the docs, laid out as
# docs/ARCHITECTURE.md ("Installed layout") says; an installed coedge finds its examples
# and models relative to itself, so it works from any folder. DESTDIR stages, as usual.
install: build
	$(CMAKE) --install $(BUILD) --prefix $(PREFIX)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Every test but the slow crash loop (COEDGE_SLOW_TESTS=OFF in the asan preset), under
# AddressSanitizer + UBSan, in build-asan/.
asan: setup
	$(call configure,asan,build-asan)
	$(CMAKE) --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

# The one concurrent part that ThreadSanitizer can check: `coedge sweep`'s worker threads,
# which live in src/sim/sweep.cc; its tests (1 thread against 4, progress) run under TSan,
# which needs only the simulator's layers built (core, policy, sim), not the whole command.
# The node's threads run OpenCV inference, which is not instrumented: TSan then reports
# OpenCV's own thread pool (tried: suppressing those reports made a 15 s node run take
# over 10 minutes; switching its interceptors off gave false mutex reports from TBB). The
# node's concurrency is covered by its tests under ASan and by its crash tests.
tsan: setup
	$(call configure,tsan,build-tsan)
	$(CMAKE) --build build-tsan -j $(JOBS) --target sim_tests
	TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/unit/sim/sim_tests --gtest_filter='Sweep.*'

# Whole-program build of the `coedge` command (it links every layer): with LTO, GCC sees all
# translation units at once and reports two different definitions of one class or inline
# function, or one symbol declared with two types, which a normal link accepts silently;
# the preset makes both errors (CMakePresets.json, "lto"). Only `coedge`: the other
# executables add link time but no layer it lacks.
lto: setup
	$(call configure,lto,build-lto)
	$(CMAKE) --build build-lto -j $(JOBS) --target coedge

# The libFuzzer targets (fuzz/, docs/SECURITY.md "Fuzzing"): the readers of untrusted files
# and of what the agent and the server read from workers, built by clang with ASan + UBSan
# into build-fuzz/ (only the libraries they parse with). fuzz-smoke runs each on a copy of
# its seed corpus (fuzz/corpus/TARGET, left unchanged) with its dictionary for FUZZ_SECONDS;
# any crash, leak, timeout (FUZZ_TIMEOUT s for one input) or sanitizer report fails it, and
# the reproducer is kept in build-fuzz/findings/. Long recorded runs: tools/fuzz_long.sh.
FUZZ_TARGETS ?= $(sort $(basename $(notdir $(wildcard fuzz/fuzz_*.cc))))
FUZZ_SECONDS ?= 15
FUZZ_TIMEOUT ?= 5

fuzz: setup
	$(call configure,fuzz,build-fuzz)
	$(CMAKE) --build build-fuzz -j $(JOBS)

fuzz-smoke: fuzz
	@rm -rf build-fuzz/smoke build-fuzz/findings; mkdir -p build-fuzz/findings; failed=; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/smoke/$$t; for seeds in fuzz/corpus/$$t build-fuzz/seeds/$$t; do [ ! -d $$seeds ] || cp -r $$seeds/. build-fuzz/smoke/$$t/; done; \
	  [ -n "$$(ls -A build-fuzz/smoke/$$t)" ] || { echo "fuzz-smoke: no seeds for $$t (fuzz/corpus/$$t, build-fuzz/seeds/$$t)"; exit 2; }; \
	  dict=; [ -f fuzz/dict/$$t.dict ] && dict=-dict=fuzz/dict/$$t.dict; \
	  echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  if build-fuzz/bin/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=2048 \
	       -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build-fuzz/findings/$$t- $$dict \
	       build-fuzz/smoke/$$t > build-fuzz/smoke/$$t.log 2>&1; then \
	    echo "$$(grep -E '^Done' build-fuzz/smoke/$$t.log), $$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [^ ]+' build-fuzz/smoke/$$t.log | tail -n 1)"; \
	  else \
	    tail -n 40 build-fuzz/smoke/$$t.log; failed="$$failed $$t"; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz-smoke: findings in:$$failed (reproducers in build-fuzz/findings/)"; exit 1; fi

# The header-layering check (tools/check_layers.py): src/ is one include root, so only this
# stops a layer from including a header of a layer its target does not link. It reads the
# targets from $(BUILD)/layers.json, which CMake writes when it configures the build.
check-layers: build
	$(PYTHON) tools/check_layers.py --layers $(BUILD)/layers.json

# The paper's lamppost experiment, for real: nodes in network namespaces with shaped links
# and CPU quotas, CoEdge against Local+EDF (docs/CLUSTER.md). Needs root.
demo: build
	@if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	$$SUDO $(COEDGE) demo --out results/demo

bench: build
	$(BUILD)/bin/coedge_bench --benchmark_counters_tabular=true
	$(BUILD)/bin/coedge_backend_bench --parity

clean:
	rm -rf $(BUILD) build-asan build-tsan build-lto build-fuzz

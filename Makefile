# imashim — the two commands a new user runs, and the ones a developer runs.
#   make demo   a busybox container under ima-runc: its measurement log, a tampered file refused
#   make test   installs dependencies (apt-get, as root), builds, runs every test suite
BUILD ?= build
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
CMAKE_FLAGS ?=
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: all deps build test unit demo bench fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Unit tests only: no root, no daemons, seconds.
unit: build
	ctest --test-dir $(BUILD) -L unit --output-on-failure

test: deps
	$(MAKE) build
	ctest --test-dir $(BUILD) --output-on-failure

demo: deps
	$(MAKE) build
	bash scripts/demo.sh $(BUILD)

bench: deps
	$(MAKE) build
	bash tests/bench/run.sh $(BUILD)

fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DIMASHIM_FUZZ=ON -DIMASHIM_WERROR=OFF
	ninja -C $(FUZZ_BUILD)
	bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)

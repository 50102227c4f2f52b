# The front door. `make run` and `make test` work on a fresh Debian 12 machine.
#   make run    install missing packages, build Release, run the main job
#   make test   install, build with ASan+UBSan and -Werror, run every test
#   make build  Release build only (build/release)
#   make bench  build and run the benchmarks (see bench/README.md)

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
RELEASE := build/release
TESTDIR := build/test
TAILOR := $(RELEASE)/tailor

.PHONY: all run test build deps bench clean format

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DTAILOR_TESTS=OFF >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS)

run: build
	@bash scripts/main-job.sh $(TAILOR)

test: deps
	@cmake -S . -B $(TESTDIR) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	  -DTAILOR_SANITIZE=ON -DTAILOR_WERROR=ON -DTAILOR_TESTS=ON >/dev/null
	@cmake --build $(TESTDIR) -j $(JOBS)
	@cd $(TESTDIR) && ctest --output-on-failure -j $(JOBS)

bench: build
	@bash bench/run.sh $(RELEASE)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h' '*.cu')

clean:
	rm -rf build

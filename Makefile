# The README's two commands. Each does its own set-up (packages, build) first.
BUILD ?= build

.PHONY: run test build deps clean static

# The workbench when stdin and stdout are a terminal, else the non-interactive run.
run: build
	@if [ -t 0 ] && [ -t 1 ]; then ./$(BUILD)/helua wb kernels/matmul.lua; \
	else ./$(BUILD)/helua run kernels/matmul.lua; fi

test: build
	sh tests/run.sh $(BUILD)

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --buildtype=debugoptimized
	ninja -C $(BUILD)

deps:
	@sh share/scripts/deps.sh

# build-static/helua: the statically linked helua for the GPU machine (share/doc/gpu.md).
static: deps
	sh share/scripts/static-build.sh

clean:
	rm -rf $(BUILD)

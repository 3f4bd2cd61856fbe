# The README's two commands. Each does its own set-up (packages, build) first.
BUILD ?= build

.PHONY: run test build deps clean static

run: build
	./$(BUILD)/helua run kernels/matmul.lua

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

# The README's two commands. Each does its own set-up (packages, build) first.
BUILD ?= build

.PHONY: run test build deps clean

run: build
	./$(BUILD)/helua run kernels/matmul.lua

test: build
	sh tests/run.sh $(BUILD)

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --buildtype=debugoptimized
	ninja -C $(BUILD)

deps:
	@sh share/scripts/deps.sh

clean:
	rm -rf $(BUILD)

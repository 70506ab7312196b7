# The two commands of the README. Both install what is missing first (packaging/bootstrap.sh).
.PHONY: run test setup

## Open the workbench on the embedded demo dataset (release build).
run: setup
	cargo run --release -p bifsmn-app --bin bifsmn-workbench -- --dataset assets/demo

## Run the whole test suite (what CI runs).
test: setup
	packaging/test.sh

setup:
	@packaging/bootstrap.sh

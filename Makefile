# The two commands of the README. Both install what is missing first (packaging/bootstrap.sh).
.PHONY: run test release setup

## Open the workbench on the embedded demo dataset (release build).
run: setup
	cargo run --release -p bifsmn-app --bin bifsmn-workbench -- --dataset assets/demo

## Run the whole test suite (what CI runs).
test: setup
	packaging/test.sh

## Release build and the .deb into target/dist (packaging/release.sh).
release: setup
	packaging/release.sh

setup:
	@packaging/bootstrap.sh

# The two commands of the README. Both install what is missing first (packaging/bootstrap.sh).
.PHONY: run test release setup

## Open the workbench on the embedded demo dataset (release build).
# The same package selection as packaging/release.sh, so the two share one release build.
run: setup
	cargo build --release --workspace --bins
	target/release/bifsmn-workbench --dataset assets/demo $(ARGS)

## Run the whole test suite (what CI runs).
test: setup
	packaging/test.sh

## Release build and the .deb into target/dist (packaging/release.sh).
release: setup
	packaging/release.sh

setup:
	@packaging/bootstrap.sh

# Glint: the two commands a newcomer needs are `make run` and `make test`.

.PHONY: run test test-short test-litestream test-tempest build

# Run Glint on its embedded default: SQLite and the filesystem store under
# ./glint-data, serving the Image API on http://127.0.0.1:9292.
run:
	go run ./cmd/glint serve

# Run the whole test suite (installs the OpenStack CLIs it needs if missing).
test:
	./scripts/test

# The fast inner loop: the unit and API tests on SQLite and the filesystem
# store, no database, Keystone, store server, reference Glance or glint
# binary started (the tests that need one skip themselves under -short).
test-short:
	go test -short ./...

# Opt-in: Litestream replicating the embedded database of a glint under
# load, the replica restored and served by a second glint
# (docs/operations.md). Builds Litestream into ~/.cache/glint/bin the first
# time, which takes minutes.
test-litestream:
	GLINT_LITESTREAM=1 go test -count=1 -run 'TestLitestream$$' -v ./test/e2e/

# Opt-in: Tempest's image suite (Debian's tempest package) against the
# glint binary with Keystone and PostgreSQL (test/tempest); installs
# tempest when missing. It takes many minutes, most of them in Keystone.
test-tempest:
	./scripts/test-tempest

build:
	go build -o glint ./cmd/glint

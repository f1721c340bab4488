# Glint: the two commands a newcomer needs are `make run` and `make test`.

.PHONY: run test build

# Run Glint on its embedded default: SQLite and the filesystem store under
# ./glint-data, serving the Image API on http://127.0.0.1:9292.
run:
	go run ./cmd/glint serve

# Run the whole test suite (installs the OpenStack CLIs it needs if missing).
test:
	./scripts/test

build:
	go build -o glint ./cmd/glint

# tests/: unit binaries (TAP), integration scenarios (TAP shell scripts), benchmarks.
# Unit tests link the module sources they test (so one module can be built alone).
UNIT_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(CRYPTO_CFLAGS) $(INIH_CFLAGS) $(SYSTEMD_CFLAGS)
UNIT_LIBS = $(SODIUM_LIBS) $(CRYPTO_LIBS) $(INIH_LIBS) $(SYSTEMD_LIBS)
EXTRA_DIST += tests/vectors/token-vectors.json

# --- sigv4/token (begin) ---
# --- sigv4/token (end) ---

# --- proto/client (begin) ---
# --- proto/client (end) ---

# --- config/creds (begin) ---
# --- config/creds (end) ---

# --- cache/sink (begin) ---
# --- cache/sink (end) ---

# --- agent runtime (begin) ---
# --- agent runtime (end) ---

# --- integration (begin) ---
# --- integration (end) ---

bench:
	@echo "bench targets are added by the modules they measure"

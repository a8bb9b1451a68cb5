// libFuzzer's driver (compiler-rt), called from each fuzzer's entry point:
// SwiftPM names an executable's entry point <target>_main itself, so
// libFuzzer's own main cannot be used.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

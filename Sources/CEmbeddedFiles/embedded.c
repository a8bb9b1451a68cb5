// The gzip file is pulled in by the assembler (.incbin searches the header
// search path, set to files/ in Package.swift) rather than as a Swift array
// literal, which takes minutes to compile. SwiftPM does not see this
// dependency: touch this file after changing files/.
#include "CEmbeddedFiles.h"

#include <stdlib.h>
#include <zlib.h>

__asm__(".section .rodata.ps_bpe_vocabulary,\"a\",@progbits\n"
        "ps_bpe_vocabulary_start:\n"
        ".incbin \"bpe_simple_vocab_16e6.txt.gz\"\n"
        "ps_bpe_vocabulary_end:\n"
        ".previous\n");

extern const unsigned char ps_bpe_vocabulary_start[], ps_bpe_vocabulary_end[];

unsigned char *ps_bpe_vocabulary(size_t *length) {
    z_stream stream = {0};
    stream.next_in = (unsigned char *)ps_bpe_vocabulary_start;
    stream.avail_in = (unsigned)(ps_bpe_vocabulary_end - ps_bpe_vocabulary_start);
    if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return NULL;   // 16: gzip framing
    size_t capacity = 2 << 20, used = 0;
    unsigned char *text = malloc(capacity);
    int status = Z_OK;
    while (text && status == Z_OK) {
        if (used == capacity) {
            unsigned char *larger = realloc(text, capacity * 2);
            if (!larger) { free(text); text = NULL; break; }
            text = larger;
            capacity *= 2;
        }
        stream.next_out = text + used;
        stream.avail_out = (unsigned)(capacity - used);
        status = inflate(&stream, Z_NO_FLUSH);
        used = capacity - stream.avail_out;
    }
    inflateEnd(&stream);
    if (status != Z_STREAM_END) { free(text); return NULL; }
    *length = used;
    return text;
}

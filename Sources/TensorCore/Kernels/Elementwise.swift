// Elementwise arithmetic on flat buffers: the building blocks of optimizer
// updates, residual connections and gradient accumulation.

extension Kernels {
    /// Sets `count` elements of `x` to `value`.
    @inlinable
    public static func fill(_ x: UnsafeMutablePointer<Float>, count: Int, value: Float) {
        precondition(count >= 0, "Kernels.fill: negative count \(count)")
        for i in 0..<count { x[i] = value }
    }

    /// `out[i] = a[i] + b[i]`.
    @inlinable
    public static func add(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>, count: Int
    ) {
        precondition(count >= 0, "Kernels.add: negative count \(count)")
        for i in 0..<count { out[i] = a[i] + b[i] }
    }

    /// `out[i] = a[i] - b[i]`.
    @inlinable
    public static func subtract(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>, count: Int
    ) {
        precondition(count >= 0, "Kernels.subtract: negative count \(count)")
        for i in 0..<count { out[i] = a[i] - b[i] }
    }

    /// `out[i] = a[i] * b[i]`.
    @inlinable
    public static func multiply(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>, count: Int
    ) {
        precondition(count >= 0, "Kernels.multiply: negative count \(count)")
        for i in 0..<count { out[i] = a[i] * b[i] }
    }

    /// `out[i] = alpha * x[i]`.
    @inlinable
    public static func scale(
        _ x: UnsafePointer<Float>, by alpha: Float,
        into out: UnsafeMutablePointer<Float>, count: Int
    ) {
        precondition(count >= 0, "Kernels.scale: negative count \(count)")
        for i in 0..<count { out[i] = alpha * x[i] }
    }

    /// `y[i] += alpha * x[i]`, the BLAS axpy.
    ///
    /// - Parameters:
    ///   - alpha: The scale applied to `x`.
    ///   - x: The addend, `count` elements.
    ///   - y: The accumulator, `count` elements, updated in place.
    @inlinable
    public static func axpy(
        alpha: Float, x: UnsafePointer<Float>,
        y: UnsafeMutablePointer<Float>, count: Int
    ) {
        precondition(count >= 0, "Kernels.axpy: negative count \(count)")
        for i in 0..<count { y[i] += alpha * x[i] }
    }
}

extension Tensor {
    /// `out = a + b`; all three have the same element count.
    public static func add(_ a: Tensor, _ b: Tensor, into out: Tensor) {
        checkSameCount("add", a, b, out)
        Kernels.add(a.pointer, b.pointer, into: out.pointer, count: out.count)
    }

    /// `out = a - b`; all three have the same element count.
    public static func subtract(_ a: Tensor, _ b: Tensor, into out: Tensor) {
        checkSameCount("subtract", a, b, out)
        Kernels.subtract(a.pointer, b.pointer, into: out.pointer, count: out.count)
    }

    /// `out = a * b` elementwise; all three have the same element count.
    public static func multiply(_ a: Tensor, _ b: Tensor, into out: Tensor) {
        checkSameCount("multiply", a, b, out)
        Kernels.multiply(a.pointer, b.pointer, into: out.pointer, count: out.count)
    }

    /// `self += x` elementwise.
    public func add(_ x: Tensor) {
        Tensor.add(self, x, into: self)
    }

    /// `self *= alpha`.
    public func scale(by alpha: Float) {
        Kernels.scale(pointer, by: alpha, into: pointer, count: count)
    }

    /// `self += alpha * x`.
    public func axpy(_ alpha: Float, _ x: Tensor) {
        precondition(x.count == count, "Tensor.axpy: \(x.shape) into \(shape)")
        Kernels.axpy(alpha: alpha, x: x.pointer, y: pointer, count: count)
    }

    private static func checkSameCount(_ op: String, _ a: Tensor, _ b: Tensor, _ out: Tensor) {
        precondition(a.count == out.count && b.count == out.count,
                     "Tensor.\(op): element counts differ, \(a.shape), \(b.shape) -> \(out.shape)")
    }
}

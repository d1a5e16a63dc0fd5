import MPI
import TensorCore

// Tensor storage never moves or resizes while alive, which is exactly what a
// nonblocking collective needs: the gradient buffer can be reduced in place,
// bucket by bucket, with no copy into separate send buffers.
extension TensorStorage: PinnedBuffer {
    public typealias Element = Float

    public var baseAddress: UnsafeMutablePointer<Float> { base }
}

import CMPI

/// How a reduction combines the contributions of the ranks.
public enum ReductionOperation {
    /// Elementwise sum (`MPI_SUM`).
    case sum
    /// Elementwise maximum (`MPI_MAX`).
    case max
    /// Elementwise minimum (`MPI_MIN`).
    case min
    /// Elementwise product (`MPI_PROD`).
    case product
    /// A user-defined operation; see `CustomReduction`.
    case custom(CustomReduction)

    /// The MPI handle. Only meaningful while MPI is running.
    var handle: MPI_Op {
        switch self {
        case .sum: return cmpi_op_sum()
        case .max: return cmpi_op_max()
        case .min: return cmpi_op_min()
        case .product: return cmpi_op_prod()
        case .custom(let reduction): return reduction.handle ?? cmpi_op_null()
        }
    }

    /// The object a pending request must keep alive, if any.
    var retainedObject: AnyObject? {
        if case .custom(let reduction) = self { return reduction }
        return nil
    }
}

/// The C signature of a user reduction (`MPI_User_function`).
///
/// MPI calls it with `input` and `inoutput` pointing at `count[0]` elements of
/// the datatype the collective was started with; the function must combine
/// them elementwise as `inoutput[i] = input[i] ⊕ inoutput[i]`. The datatype
/// handle is passed opaquely; a function written for one element type can
/// ignore it.
public typealias ReductionFunction = @convention(c) (
    _ input: UnsafeMutableRawPointer?,
    _ inoutput: UnsafeMutableRawPointer?,
    _ count: UnsafeMutablePointer<Int32>?,
    _ datatype: UnsafeMutableRawPointer?
) -> Void

/// A user-defined reduction operation (`MPI_Op_create`), freed on release.
///
/// Because a `@convention(c)` function cannot capture context, the element
/// type and arithmetic are fixed by the function itself; the data-parallel
/// layer uses this for bfloat16 payloads summed in Float32, for example.
/// Under the local fallback no MPI operation is created: reductions on a
/// size-1 communicator never call the function.
public final class CustomReduction {
    /// The MPI handle, or `nil` in the local fallback.
    let handle: MPI_Op?
    /// Whether the operation is commutative, as declared at creation.
    public let isCommutative: Bool
    /// The function MPI calls.
    public let function: ReductionFunction

    /// Registers `function` as a reduction operation.
    ///
    /// - Parameters:
    ///   - commutative: Whether the order of operands may change. MPI may
    ///     choose faster algorithms for commutative operations.
    ///   - function: The elementwise combination; see `ReductionFunction`.
    public init(commutative: Bool, function: ReductionFunction) throws {
        self.isCommutative = commutative
        self.function = function
        if MPI.world.isLocal {
            handle = nil
            return
        }
        // ReductionFunction differs from MPI_User_function only in spelling
        // the datatype pointer as a raw pointer, which has the same C ABI and
        // keeps MPI_Datatype out of callers' code.
        typealias CUserFunction = @convention(c) (
            UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?,
            UnsafeMutablePointer<MPI_Datatype?>?
        ) -> Void
        let userFunction = unsafeBitCast(function, to: CUserFunction.self)
        var op: MPI_Op? = cmpi_op_null()
        try check(MPI_Op_create(userFunction, commutative ? 1 : 0, &op), "MPI_Op_create")
        handle = op
    }

    deinit {
        guard handle != nil, MPI.canCallMPI else { return }
        var op = handle
        MPI_Op_free(&op)
    }
}

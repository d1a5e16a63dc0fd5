import CMPI

/// An element type that MPI can move and reduce without conversion.
///
/// The conformances are fixed by this module: `Float`, `Double`, `Int32`,
/// `Int64`, `Int` (64-bit on every supported platform), `UInt8`, and
/// `UInt16`. `UInt16` is meant as raw 16-bit payload (for instance bfloat16
/// bits reduced by a custom operation); the built-in operations treat it as
/// an unsigned integer.
public protocol MPIScalar: BitwiseCopyable {
    /// The matching predefined MPI datatype.
    static var mpiDatatype: MPI_Datatype { get }
}

extension Float: MPIScalar {
    @inlinable public static var mpiDatatype: MPI_Datatype { cmpi_float() }
}

extension Double: MPIScalar {
    @inlinable public static var mpiDatatype: MPI_Datatype { cmpi_double() }
}

extension Int32: MPIScalar {
    @inlinable public static var mpiDatatype: MPI_Datatype { cmpi_int32() }
}

extension Int64: MPIScalar {
    @inlinable public static var mpiDatatype: MPI_Datatype { cmpi_int64() }
}

extension Int: MPIScalar {
    // Swift's Int is 64-bit on the 64-bit Linux targets this package supports.
    @inlinable public static var mpiDatatype: MPI_Datatype { cmpi_int64() }
}

extension UInt8: MPIScalar {
    @inlinable public static var mpiDatatype: MPI_Datatype { cmpi_uint8() }
}

extension UInt16: MPIScalar {
    @inlinable public static var mpiDatatype: MPI_Datatype { cmpi_uint16() }
}

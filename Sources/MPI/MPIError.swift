import CMPI

/// A failure reported by the MPI library.
///
/// Every communicator this module creates has `MPI_ERRORS_RETURN` installed,
/// so a failing call comes back here as a thrown error instead of aborting
/// the job. Programmer misuse (bad counts, out-of-range roots) never reaches
/// MPI: it stops earlier with a precondition failure.
public struct MPIError: Error, Equatable, CustomStringConvertible {
    /// The MPI function that failed, e.g. `"MPI_Bcast"`.
    public let call: String
    /// The raw error code returned by the call.
    public let code: Int32
    /// The error class of `code`, as reported by `MPI_Error_class`.
    public let errorClass: ErrorClass
    /// The library's text for `code`, as reported by `MPI_Error_string`.
    public let message: String

    /// Creates an error by asking the library to classify and describe `code`.
    ///
    /// - Parameters:
    ///   - call: The name of the MPI function that returned `code`.
    ///   - code: The non-success return code.
    init(call: String, code: Int32) {
        self.call = call
        self.code = code
        var errorClass: Int32 = code
        if MPI_Error_class(code, &errorClass) != MPI_SUCCESS { errorClass = code }
        self.errorClass = ErrorClass(rawValue: errorClass)
        self.message = MPIError.describe(code)
    }

    /// Creates an error without a running library (used by the size-1 fallback).
    init(call: String, errorClass: ErrorClass, message: String) {
        self.call = call
        self.code = errorClass.rawValue
        self.errorClass = errorClass
        self.message = message
    }

    public var description: String {
        "\(call) failed: \(message) (error class \(errorClass.rawValue))"
    }

    private static func describe(_ code: Int32) -> String {
        let capacity = Int(cmpi_max_error_string())
        var text = [CChar](repeating: 0, count: capacity + 1)
        var length: Int32 = 0
        guard MPI_Error_string(code, &text, &length) == MPI_SUCCESS else {
            return "MPI error code \(code)"
        }
        let bytes = text[0..<Int(max(0, min(length, Int32(capacity))))].map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An MPI error class (`MPI_ERR_*`), the portable part of an error code.
    public struct ErrorClass: RawRepresentable, Hashable, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// Invalid buffer pointer (`MPI_ERR_BUFFER`).
        public static let buffer = ErrorClass(rawValue: MPI_ERR_BUFFER)
        /// Invalid count argument (`MPI_ERR_COUNT`).
        public static let count = ErrorClass(rawValue: MPI_ERR_COUNT)
        /// Invalid datatype (`MPI_ERR_TYPE`).
        public static let type = ErrorClass(rawValue: MPI_ERR_TYPE)
        /// Invalid communicator (`MPI_ERR_COMM`).
        public static let comm = ErrorClass(rawValue: MPI_ERR_COMM)
        /// Invalid rank (`MPI_ERR_RANK`).
        public static let rank = ErrorClass(rawValue: MPI_ERR_RANK)
        /// Invalid root (`MPI_ERR_ROOT`).
        public static let root = ErrorClass(rawValue: MPI_ERR_ROOT)
        /// Invalid reduction operation (`MPI_ERR_OP`).
        public static let op = ErrorClass(rawValue: MPI_ERR_OP)
        /// Invalid argument of some other kind (`MPI_ERR_ARG`).
        public static let arg = ErrorClass(rawValue: MPI_ERR_ARG)
        /// Message truncated on receive (`MPI_ERR_TRUNCATE`).
        public static let truncate = ErrorClass(rawValue: MPI_ERR_TRUNCATE)
        /// Known error not in this list (`MPI_ERR_OTHER`).
        public static let other = ErrorClass(rawValue: MPI_ERR_OTHER)
        /// Internal MPI error (`MPI_ERR_INTERN`).
        public static let intern = ErrorClass(rawValue: MPI_ERR_INTERN)
        /// An error is recorded in a status (`MPI_ERR_IN_STATUS`).
        public static let inStatus = ErrorClass(rawValue: MPI_ERR_IN_STATUS)
        /// Operation not supported (`MPI_ERR_UNSUPPORTED_OPERATION`).
        public static let unsupportedOperation = ErrorClass(rawValue: MPI_ERR_UNSUPPORTED_OPERATION)
    }
}

/// Throws an `MPIError` unless `code` is `MPI_SUCCESS`.
///
/// The one place every C return code passes through, so error translation
/// stays uniform across the module.
@inline(__always)
func check(_ code: Int32, _ call: StaticString) throws {
    if _slowPath(code != MPI_SUCCESS) {
        throw MPIError(call: "\(call)", code: code)
    }
}

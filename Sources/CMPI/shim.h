// OpenMPI defines its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) as
// macros that take the address of global structs, and MPI_IN_PLACE and
// friends as casts of small integers. Swift imports neither, so each is
// re-exported here as a tiny inline function with the `cmpi_` prefix.
#ifndef CMPI_SHIM_H
#define CMPI_SHIM_H

#include <mpi.h>

// Communicators: the two predefined ones, and the null handle to compare against.
static inline MPI_Comm cmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm cmpi_comm_self(void) { return MPI_COMM_SELF; }
static inline MPI_Comm cmpi_comm_null(void) { return MPI_COMM_NULL; }

// Datatypes for the element types the Swift module supports.
static inline MPI_Datatype cmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype cmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype cmpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype cmpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype cmpi_uint8(void) { return MPI_UINT8_T; }
static inline MPI_Datatype cmpi_uint16(void) { return MPI_UINT16_T; }
static inline MPI_Datatype cmpi_byte(void) { return MPI_BYTE; }

// Reduction operators.
static inline MPI_Op cmpi_op_sum(void) { return MPI_SUM; }
static inline MPI_Op cmpi_op_max(void) { return MPI_MAX; }
static inline MPI_Op cmpi_op_min(void) { return MPI_MIN; }
static inline MPI_Op cmpi_op_prod(void) { return MPI_PROD; }
static inline MPI_Op cmpi_op_null(void) { return MPI_OP_NULL; }

// Sentinel pointers and handles: casts of integers, invisible to Swift.
static inline void *cmpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *cmpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *cmpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
static inline MPI_Request cmpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Errhandler cmpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int cmpi_undefined(void) { return MPI_UNDEFINED; }
static inline int cmpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int cmpi_any_tag(void) { return MPI_ANY_TAG; }
static inline MPI_Info cmpi_info_null(void) { return MPI_INFO_NULL; }

// The split type that groups the ranks able to share memory (one node).
static inline int cmpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }

// Constants that are plain macros: Swift imports simple integer macros, but
// these keep every MPI constant behind the same prefix.
static inline int cmpi_success(void) { return MPI_SUCCESS; }
static inline int cmpi_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }
static inline int cmpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int cmpi_max_library_version_string(void) { return MPI_MAX_LIBRARY_VERSION_STRING; }

// Thread support levels.
static inline int cmpi_thread_single(void) { return MPI_THREAD_SINGLE; }
static inline int cmpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int cmpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int cmpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }

#endif

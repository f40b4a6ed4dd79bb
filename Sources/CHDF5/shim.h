// HDF5's C API for Swift. HDF5 spells its type and flag constants as macros that call H5open() or
// read library globals; Swift imports neither, so each one Strata uses has a getter here.
#include <hdf5.h>

/// H5T_NATIVE_FLOAT: the machine's float.
static inline hid_t strata_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
/// H5T_NATIVE_DOUBLE: the machine's double.
static inline hid_t strata_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
/// H5T_NATIVE_INT64: the machine's 64-bit integer.
static inline hid_t strata_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
/// H5T_NATIVE_INT32: the machine's 32-bit integer.
static inline hid_t strata_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
/// H5T_IEEE_F32LE: little-endian float32, as Keras stores weights.
static inline hid_t strata_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
/// H5T_STD_I64LE: little-endian int64 (the optimizer's iteration count).
static inline hid_t strata_h5t_std_i64le(void) { return H5T_STD_I64LE; }
/// H5T_C_S1: the C string type strings are derived from.
static inline hid_t strata_h5t_c_s1(void) { return H5T_C_S1; }
/// H5P_FILE_ACCESS: the class of file-access property lists.
static inline hid_t strata_h5p_file_access(void) { return H5P_FILE_ACCESS; }
/// H5P_GROUP_CREATE: the class of group-creation property lists.
static inline hid_t strata_h5p_group_create(void) { return H5P_GROUP_CREATE; }
/// H5P_LINK_CREATE: the class of link-creation property lists.
static inline hid_t strata_h5p_link_create(void) { return H5P_LINK_CREATE; }
/// H5F_ACC_RDONLY: open a file read-only.
static inline unsigned strata_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
/// H5F_ACC_TRUNC: create a file, replacing any.
static inline unsigned strata_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
/// H5E_DEFAULT: the default error stack.
static inline hid_t strata_h5e_default(void) { return H5E_DEFAULT; }
/// Silences HDF5's printing of its error stack on this thread; failures are reported by return values.
static inline void strata_h5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

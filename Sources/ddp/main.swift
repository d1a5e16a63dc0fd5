import TensorCore

// OpenBLAS reads OPENBLAS_CORETYPE only at load time, so the fix for its
// misdetected kernel has to be a fresh image of this process; it must happen
// before MPI starts, while the process is still free to replace itself.
OpenBLASKernel.relaunchIfNeeded()
OpenBLASKernel.pinToOneThreadUnlessRequested()
DDPCommand.main()

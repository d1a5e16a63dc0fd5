print("mpi-checks")

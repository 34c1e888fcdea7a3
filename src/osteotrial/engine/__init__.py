"""How the model is stepped: the time loop, the CPU and GPU kernels, the LSODA reference, results."""

"""How the model is stepped: the time loop, CPU and GPU kernels, LSODA reference, results."""

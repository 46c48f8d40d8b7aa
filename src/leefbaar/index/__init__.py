"""leefbaar.index"""

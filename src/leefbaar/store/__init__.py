"""leefbaar.store"""

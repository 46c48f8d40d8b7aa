"""leefbaar.analysis"""

"""leefbaar.geo"""

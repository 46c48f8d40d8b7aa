"""leefbaar.report"""

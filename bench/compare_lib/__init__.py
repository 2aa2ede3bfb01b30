"""bench/compare: keyloom-server against redis-server (and others) under the same load.

Standard library only; run by /usr/bin/python3 through bench/compare. Modules:

  procstat     CPU time (all threads, main thread) and RSS of a process from /proc
  servers      server configurations and instances (start, stop, INFO, crash detection)
  bench        running keyloom-bench and parsing its --json output
  certs        the EC P-256 server certificate signed by the test CA
  idle_client  a standalone asyncio script that holds N idle TLS connections
  report       results.csv, summary.md and chart.png (gnuplot)
  cli          options and the measurement plan
"""

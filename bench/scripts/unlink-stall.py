#!/usr/bin/python3
"""How long DEL and UNLINK of a big set stall the server.

    bench/scripts/unlink-stall.py PORT [N]

Against a running server on 127.0.0.1:PORT (keyloom-server or redis-server): fills the set
`s` with N (default 1,000,000) integers, then runs DEL, UNLINK, DEL, UNLINK, each time with a
PING sent from a second connection 2 ms after the command; prints both latencies. A PING
that takes as long as the DEL shows the executor was busy freeing. Needs redis-py
(/usr/bin/python3). It deletes the key `s`.
"""
import redis, time, threading, sys
port=int(sys.argv[1]); n=int(sys.argv[2]) if len(sys.argv)>2 else 1000000
r=redis.Redis(port=port); r2=redis.Redis(port=port)
def fill():
    p=r.pipeline(transaction=False)
    for i in range(0,n,10000): p.sadd('s',*range(i+10**9,i+10**9+10000))
    p.execute()
for cmd in ('del','unlink','del','unlink'):
    fill(); assert r.scard('s')==n
    r2.ping()
    res={}
    def other():
        time.sleep(0.002)
        t=time.perf_counter(); r2.ping(); res['ping']=time.perf_counter()-t
    th=threading.Thread(target=other); th.start()
    t=time.perf_counter(); r.execute_command(cmd,'s'); d=time.perf_counter()-t
    th.join()
    print(f"{cmd}: command {d*1000:.1f} ms, concurrent PING {res['ping']*1000:.1f} ms")
print(r.info('memory')['lazyfreed_objects'])

#!/usr/bin/env python3
"""Reference client for kiemidi's load benchmark: the same song -> MIDI pipeline (separate ->
wait -> transcribe -> wait) written idiomatically with asyncio + aiohttp: one ClientSession with
a pooled TCPConnector (limit = pool size, like kiemidi's pool) for KIE, an aiohttp web server for
the callbacks. Prints one JSON line with the fields kiemidi-bench-load prints.

  python3 pipeline.py --base-url http://127.0.0.1:PORT [--pipelines N] [--concurrency C]
      [--mode callback|polling] [--delay-ms D] [--scenario NAME] [--ca-file ca.pem] [--pool-size 32]
"""
import argparse
import asyncio
import json
import resource
import ssl
import sys
import time

import aiohttp
from aiohttp import web


def status_kib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return 0


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def sys_cpu_seconds():
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def percentile(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def task_id_of(body):
    data = body.get('data') or {}
    return data.get('task_id') or data.get('taskId') or body.get('task_id') or body.get('taskId')


class Bench:
    def __init__(self, a):
        self.a = a
        self.stage_timeout = (a.delay_ms + 60000) / 1000
        self.waiters = {}   # task id -> future
        self.early = {}     # callbacks that beat the submit answer
        self.done = self.failed = self.in_flight = self.polls = self.callbacks = 0
        self.overhead = []
        self.first_error = ''
        self.callback_base = ''

    async def kie(self, method, path, body=None):
        async with self.session.request(method, self.a.base_url + path, json=body) as r:
            j = await r.json(content_type=None)
        if j.get('code') != 200:
            raise RuntimeError(f"{method} {path}: {j.get('code')} {j.get('msg')}")
        return j['data']

    async def on_callback(self, request):
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400)
        tid = task_id_of(body)
        fut = self.waiters.pop(tid, None)
        if fut is not None and not fut.done():
            fut.set_result(body)
        else:
            self.early[tid] = body
        return web.json_response({'status': 'received'})

    async def wait_callback(self, tid):
        if tid in self.early:
            return self.early.pop(tid)
        fut = asyncio.get_running_loop().create_future()
        self.waiters[tid] = fut
        try:
            return await asyncio.wait_for(fut, self.stage_timeout)
        finally:
            self.waiters.pop(tid, None)

    async def poll(self, path, tid, finished):
        interval = self.a.poll_ms / 1000
        until = time.monotonic() + self.stage_timeout
        while True:
            await asyncio.sleep(interval)
            data = await self.kie('GET', f'{path}?taskId={tid}')
            self.polls += 1
            if finished(data):
                return data
            if time.monotonic() > until:
                raise TimeoutError(f'poll timeout {tid}')
            interval = min(interval * 1.5, self.a.poll_ms * 4 / 1000)

    async def pipeline(self, i):
        t0 = time.perf_counter()
        cb = self.a.mode == 'callback'
        polling_url = 'https://callback.invalid/polling'
        sep = await self.kie('POST', '/api/v1/vocal-removal/generate', {
            'taskId': f'bench-music-{i // 2}', 'audioId': f'bench-audio-{i}', 'type': 'separate_vocal',
            'callBackUrl': self.callback_base + '/separation' if cb else polling_url})
        if cb:
            body = await self.wait_callback(sep['taskId'])
            if body.get('code') != 200:
                raise RuntimeError(f"separation failed: {body.get('msg')}")
            self.callbacks += 1
        else:
            def sep_done(d):
                if d.get('successFlag') == 'SUCCESS':
                    return True
                if d.get('successFlag') != 'PENDING':
                    raise RuntimeError(f"separation {d.get('successFlag')}")
                return False
            await self.poll('/api/v1/vocal-removal/record-info', sep['taskId'], sep_done)
        midi = await self.kie('POST', '/api/v1/midi/generate', {
            'taskId': sep['taskId'], 'callBackUrl': self.callback_base + '/midi' if cb else polling_url})
        if cb:
            body = await self.wait_callback(midi['taskId'])
            if body.get('code') != 200:
                raise RuntimeError(f"midi failed: {body.get('msg')}")
            data = body.get('data') or {}
            midi_data = data.get('midiData', data)
            self.callbacks += 1
        else:
            def midi_done(d):
                flag = int(d.get('successFlag', -1))
                if flag == 1:
                    return True
                if flag != 0:
                    raise RuntimeError(f'midi {flag}')
                return False
            midi_data = (await self.poll('/api/v1/midi/record-info', midi['taskId'], midi_done)).get('midiData') or {}
        notes = sum(len(ins.get('notes') or []) for ins in (midi_data.get('instruments') or []))
        if not notes:
            raise RuntimeError('pipeline returned no notes')
        self.overhead.append((time.perf_counter() - t0) * 1000 - 2 * self.a.delay_ms)

    async def counters(self):
        try:
            async with self.session.get(self.a.base_url + '/emulator/counters') as r:
                return await r.json(content_type=None) if r.status == 200 else None
        except aiohttp.ClientError:
            return None

    async def run(self):
        a = self.a
        ssl_ctx = ssl.create_default_context(cafile=a.ca_file) if a.ca_file else None
        connector = aiohttp.TCPConnector(limit=a.pool_size, ssl=ssl_ctx if ssl_ctx else False)
        headers = {'Authorization': f'Bearer {a.api_key}'}
        runner = None
        async with aiohttp.ClientSession(connector=connector, headers=headers) as self.session:
            if a.mode == 'callback':
                app = web.Application(client_max_size=32 * 1024 * 1024)
                app.router.add_post('/callback/{kind}', self.on_callback)
                runner = web.AppRunner(app, access_log=None)
                await runner.setup()
                site = web.TCPSite(runner, '127.0.0.1', 0, backlog=4096)
                await site.start()
                port = site._server.sockets[0].getsockname()[1]
                self.callback_base = f'http://127.0.0.1:{port}/callback'
            before = await self.counters()
            rss_base = status_kib('VmRSS')
            cpu0, sys0, t0 = cpu_seconds(), sys_cpu_seconds(), time.perf_counter()
            peak = {'in_flight': 0, 'rss': 0}

            async def sampler():
                while True:
                    rss = status_kib('VmRSS') - rss_base
                    if self.in_flight > peak['in_flight'] or (self.in_flight == peak['in_flight'] and rss > peak['rss']):
                        peak['in_flight'], peak['rss'] = self.in_flight, rss
                    await asyncio.sleep(0.05)

            next_i = 0

            async def worker():
                nonlocal next_i
                while next_i < a.pipelines:
                    i = next_i
                    next_i += 1
                    self.in_flight += 1
                    try:
                        await self.pipeline(i)
                        self.done += 1
                    except Exception as e:  # one failed pipeline must not stop the others
                        self.failed += 1
                        if not self.first_error:
                            self.first_error = f'{type(e).__name__}: {e}'
                    self.in_flight -= 1

            sampling = asyncio.create_task(sampler())
            await asyncio.gather(*(worker() for _ in range(min(a.concurrency, a.pipelines))))
            secs, cpu, sys_cpu = time.perf_counter() - t0, cpu_seconds() - cpu0, sys_cpu_seconds() - sys0
            sampling.cancel()
            after = await self.counters()
            if runner:
                await runner.cleanup()
        n = max(1, self.done)
        line = {
            'client': 'python', 'scenario': a.scenario, 'mode': a.mode,
            'scheme': 'https' if a.base_url.startswith('https') else 'http',
            'pipelines': a.pipelines, 'concurrency': a.concurrency, 'delay_ms': a.delay_ms,
            'ok': self.done, 'failed': self.failed, 'elapsed_s': round(secs, 3),
            'pipelines_per_s': round(self.done / secs, 1),
            'client_cpu_s_per_1000': round(cpu / n * 1000, 4),
            'client_sys_cpu_s_per_1000': round(sys_cpu / n * 1000, 4), 'peak_rss_kib': status_kib('VmHWM'),
            'peak_in_flight': peak['in_flight'], 'rss_delta_at_peak_kib': peak['rss'],
            'rss_per_inflight_kib': round(peak['rss'] / peak['in_flight'], 2) if peak['in_flight'] else 0,
            'rss_base_kib': rss_base,
            'peak_rss_growth_per_inflight_kib':
                round((status_kib('VmHWM') - rss_base) / peak['in_flight'], 2) if peak['in_flight'] else 0,
            'requests_per_pipeline': {}, 'pool_size': a.pool_size,
            'polls_per_pipeline': round(self.polls / n, 3), 'callbacks_per_pipeline': round(self.callbacks / n, 3),
            'overhead_ms_p50': round(percentile(self.overhead, 50), 3),
            'overhead_ms_p99': round(percentile(self.overhead, 99), 3),
        }
        if before and after:
            for k, v in after['requests'].items():
                d = v - before['requests'].get(k, 0)
                if d:
                    line['requests_per_pipeline'][k] = round(d / n, 3)
            line['emulator_connections_accepted'] = (
                after['tcp_connections_accepted'] + after['tls_connections_accepted']
                - before['tcp_connections_accepted'] - before['tls_connections_accepted'])
            line['callbacks_sent'] = after['callbacks_sent'] - before['callbacks_sent']
            line['duplicate_paid_submissions'] = after['duplicate_paid_submissions'] - before['duplicate_paid_submissions']
        if self.first_error:
            line['first_error'] = self.first_error
        print(json.dumps(line), flush=True)
        return self.failed == 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--base-url', required=True)
    p.add_argument('--api-key', default='kie-emulator-key')
    p.add_argument('--pipelines', type=int, default=1000)
    p.add_argument('--concurrency', type=int, default=256)
    p.add_argument('--mode', choices=['callback', 'polling'], default='callback')
    p.add_argument('--delay-ms', type=int, default=0)
    p.add_argument('--scenario', default='')
    p.add_argument('--ca-file', default='')
    p.add_argument('--pool-size', type=int, default=32)
    p.add_argument('--poll-ms', type=int, default=50)
    a = p.parse_args()
    if not a.scenario:
        a.scenario = f"{a.mode}-{'https' if a.base_url.startswith('https') else 'http'}"
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    limit = 2 * (a.delay_ms / 1000 + 60) + 120 + a.pipelines * 0.005

    async def bounded():
        return await asyncio.wait_for(Bench(a).run(), limit)
    try:
        ok = asyncio.run(bounded())
    except asyncio.TimeoutError:
        print('pipeline.py: time limit reached', file=sys.stderr)
        sys.exit(3)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()

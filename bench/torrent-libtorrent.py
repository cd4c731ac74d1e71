#!/usr/bin/python3
"""libtorrent-rasterbar (Debian's python3-libtorrent) as a torrent engine on loopback, for bench/torrent-engines.sh.

  torrent-libtorrent.py seed TORRENT DATA_DIR PORT SOCKET_BUFFER_BYTES   seeds until killed (prints "seeding" once ready)
  torrent-libtorrent.py pull TORRENT DATA_DIR SEED_PORT SOCKET_BUFFER_BYTES   prints "<total ms> <first byte ms>"

Both sides: TCP only (uTP off, as transmission's utp-enabled false), no DHT, LSD, UPnP or NAT-PMP; the puller is given
the seeder's address directly (no tracker). SOCKET_BUFFER_BYTES 0 keeps libtorrent's default socket buffers. Timing as
for the other engines: from adding the torrent on a fresh puller process until every byte is reported, first byte at
the first 50 ms poll that shows downloaded data. Not part of the gateway: the evidence for docs/torrents.md, "Speed".
"""
import sys
import time

import libtorrent as lt


def session(port, buffer_bytes):
    settings = lt.high_performance_seed()
    settings.update({
        'listen_interfaces': f'127.0.0.1:{port}',
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'enable_outgoing_utp': False, 'enable_incoming_utp': False,
        'alert_mask': 0,
    })
    if buffer_bytes > 0:
        settings.update({'send_socket_buffer_size': buffer_bytes, 'recv_socket_buffer_size': buffer_bytes})
    return lt.session(settings)


def seed(torrent, data, port, buffer_bytes):
    s = session(port, buffer_bytes)
    handle = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': data})
    # A full check of the file first (the other engines' seeders verify too), so no run pays for lazy checking.
    while not handle.status().is_seeding:
        time.sleep(0.05)
    print('seeding', flush=True)
    while True:
        time.sleep(3600)


def pull(torrent, data, seed_port, buffer_bytes):
    s = session(0, buffer_bytes)
    started = time.monotonic()
    handle = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': data})
    handle.connect_peer(('127.0.0.1', seed_port))
    first = None
    while True:
        status = handle.status()
        if first is None and status.total_wanted_done > 0:
            first = time.monotonic() - started
        if status.total_wanted > 0 and status.total_wanted_done >= status.total_wanted:
            break
        time.sleep(0.05)
    total = time.monotonic() - started
    print(f'{int(total * 1000)} {int((first if first is not None else total) * 1000)}', flush=True)


if __name__ == '__main__':
    mode, torrent, data, port, buffer_bytes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    (seed if mode == 'seed' else pull)(torrent, data, port, buffer_bytes)

import asyncio

import uvloop

from casegate import event_loop


def test_the_long_running_processes_loop_is_uvloop_and_returns_the_coroutines_result() -> None:
    async def which_loop() -> type:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    assert event_loop.run(which_loop()) is uvloop.Loop

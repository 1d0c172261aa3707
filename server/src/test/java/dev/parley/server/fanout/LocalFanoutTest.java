package dev.parley.server.fanout;

class LocalFanoutTest extends FanoutContract {
    @Override
    protected Fanout create(RunLogFixture log) {
        return new LocalFanout();
    }
}

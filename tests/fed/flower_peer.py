#!/usr/bin/python3
"""Python peers speaking Flower's legacy transport the way Flower does, for tests/fed.

Built on Debian's python3-grpcio and python3-numpy and the message module protoc writes from
src/flower/flower_transport.proto (on PYTHONPATH); parameters travel as Flower's
ndarray_to_bytes / bytes_to_ndarray make them: numpy.save / numpy.load with allow_pickle=False.

  flower_peer.py client --server HOST:PORT --modes MODE,... [--cap BYTES]
      One connection per mode, in turn. Each answers GetPropertiesIns as a stock NumPyClient does
      (GET_PROPERTIES_NOT_IMPLEMENTED), then answers FitIns according to its mode:
        flower       a well-behaved NumPyClient: returns 2 x the parameters, num_examples 5, and
                     answers EvaluateIns and ReconnectIns
        garbage      bytes that are not a ClientMessage
        wrong-count  one tensor too few
        wrong-shape  the first tensor transposed
        wrong-dtype  the tensors as float64
        oversized    a FitRes 1.5 x --cap bytes long
        silent       never answers FitIns
      and reports how the server ended the stream.
  flower_peer.py server --rounds N --out DIR
      A minimal server in the manner of flwr.server.start_server with FedAvg and no initial
      parameters: GetParametersIns to the first client, then per round FitIns (config
      server_round, local_epochs, batch_size, learning_rate as Python ints and floats) and
      EvaluateIns, then ReconnectIns(seconds=0). Writes DIR/initial-I.npy, DIR/final-I.npy and
      DIR/metrics.json.
"""
import argparse
import io
import json
import queue
import sys
import threading
from concurrent import futures

import grpc
import numpy as np

import flower_transport_pb2 as pb

JOIN = "/flwr.proto.FlowerService/Join"
UNLIMITED = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


def to_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def to_array(tensor):
    return np.load(io.BytesIO(tensor), allow_pickle=False)


def to_parameters(arrays):
    return pb.Parameters(tensors=[to_bytes(a) for a in arrays], tensor_type="numpy.ndarray")


def scalar(value):
    if isinstance(value, bool):
        return pb.Scalar(bool=value)
    if isinstance(value, int):
        return pb.Scalar(sint64=value)
    if isinstance(value, float):
        return pb.Scalar(double=value)
    return pb.Scalar(string=str(value))


def fit_reply(mode, arrays, cap):
    """The bytes a peer of this mode sends in answer to FitIns."""
    if mode == "garbage":
        return b"\xff\xff\xff\xff not a protobuf message"
    if mode == "wrong-count":
        arrays = arrays[:-1]
    elif mode == "wrong-shape":
        arrays = [arrays[0].T.copy()] + arrays[1:]
    elif mode == "wrong-dtype":
        arrays = [a.astype(np.float64) for a in arrays]
    elif mode == "flower":
        arrays = [a * np.float32(2) for a in arrays]
    parameters = to_parameters(arrays)
    if mode == "oversized":  # over our cap, under gRPC's (twice the cap)
        parameters = pb.Parameters(tensors=[b"\0" * int(cap * 1.5)], tensor_type="numpy.ndarray")
    reply = pb.ClientMessage(fit_res=pb.ClientMessage.FitRes(
        status=pb.Status(code=pb.OK), parameters=parameters, num_examples=5))
    reply.fit_res.metrics["loss"].double = 0.5
    return reply.SerializeToString()


def run_client_mode(server, mode, cap):
    channel = grpc.insecure_channel(server, options=UNLIMITED)
    join = channel.stream_stream(JOIN, request_serializer=lambda b: b,
                                 response_deserializer=pb.ServerMessage.FromString)
    outbox = queue.Queue()
    replies = join(iter(outbox.get, None))
    try:
        for message in replies:
            kind = message.WhichOneof("msg")
            if kind == "get_properties_ins":
                outbox.put(pb.ClientMessage(get_properties_res=pb.ClientMessage.GetPropertiesRes(
                    status=pb.Status(code=pb.GET_PROPERTIES_NOT_IMPLEMENTED,
                                     message="Client does not implement `get_properties`")
                )).SerializeToString())
            elif kind == "fit_ins":
                arrays = [to_array(t) for t in message.fit_ins.parameters.tensors]
                # Which Scalar fields the config uses: Flower before 1.13 knows no uint64, and its
                # serde fails on a value whose field it does not know.
                kinds = sorted({v.WhichOneof("scalar") for v in message.fit_ins.config.values()})
                print(f"{mode}: received FitIns: {len(arrays)} tensors, dtypes "
                      f"{sorted({str(a.dtype) for a in arrays})}, shapes "
                      f"{[list(a.shape) for a in arrays]}, config kinds {kinds}", flush=True)
                if mode != "silent":
                    outbox.put(fit_reply(mode, arrays, cap))
            elif kind == "evaluate_ins":
                reply = pb.ClientMessage(evaluate_res=pb.ClientMessage.EvaluateRes(
                    status=pb.Status(code=pb.OK), loss=0.5, num_examples=5))
                reply.evaluate_res.metrics["accuracy"].double = 0.25
                outbox.put(reply.SerializeToString())
            elif kind == "reconnect_ins":
                outbox.put(pb.ClientMessage(disconnect_res=pb.ClientMessage.DisconnectRes(
                    reason=pb.ACK)).SerializeToString())
                print(f"{mode}: the server said goodbye", flush=True)
                break
        print(f"{mode}: the stream ended", flush=True)
    except grpc.RpcError as error:
        print(f"{mode}: the server ended the stream: {error.code().name}: {error.details()}",
              flush=True)
    finally:
        outbox.put(None)
        channel.close()


def client(args):
    for mode in args.modes.split(","):
        run_client_mode(args.server, mode, args.cap)


def server(args):
    done = threading.Event()
    metrics = {"fit": [], "evaluate": []}

    def join(requests, context):
        yield pb.ServerMessage(get_parameters_ins=pb.ServerMessage.GetParametersIns())
        reply = next(requests)
        arrays = [to_array(t) for t in reply.get_parameters_res.parameters.tensors]
        for i, array in enumerate(arrays):
            np.save(f"{args.out}/initial-{i}.npy", array, allow_pickle=False)
        for server_round in range(1, args.rounds + 1):
            config = {"server_round": server_round, "local_epochs": 1, "batch_size": 20,
                      "learning_rate": 0.05}
            yield pb.ServerMessage(fit_ins=pb.ServerMessage.FitIns(
                parameters=to_parameters(arrays), config={k: scalar(v) for k, v in config.items()}))
            fit = next(requests).fit_res
            assert fit.status.code == pb.OK, fit.status.message
            # FedAvg as flwr's aggregate_inplace computes it: each update times n_k / n, summed.
            total = fit.num_examples
            arrays = [to_array(t) * np.float32(fit.num_examples / total) for t in fit.parameters.tensors]
            metrics["fit"].append({"num_examples": fit.num_examples,
                                   "loss": fit.metrics["loss"].double,
                                   "dtypes": sorted({str(to_array(t).dtype) for t in fit.parameters.tensors})})
            yield pb.ServerMessage(evaluate_ins=pb.ServerMessage.EvaluateIns(
                parameters=to_parameters(arrays), config={"server_round": scalar(server_round)}))
            evaluation = next(requests).evaluate_res
            metrics["evaluate"].append({"loss": evaluation.loss,
                                        "num_examples": evaluation.num_examples,
                                        "accuracy": evaluation.metrics["accuracy"].double})
        for i, array in enumerate(arrays):
            np.save(f"{args.out}/final-{i}.npy", array, allow_pickle=False)
        try:
            yield pb.ServerMessage(reconnect_ins=pb.ServerMessage.ReconnectIns(seconds=0))
            metrics["disconnect_reason"] = pb.Reason.Name(next(requests).disconnect_res.reason)
        finally:
            with open(f"{args.out}/metrics.json", "w") as f:
                json.dump(metrics, f)
            done.set()

    handler = grpc.method_handlers_generic_handler("flwr.proto.FlowerService", {
        "Join": grpc.stream_stream_rpc_method_handler(
            join, request_deserializer=pb.ClientMessage.FromString,
            response_serializer=lambda m: m.SerializeToString())})
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=UNLIMITED)
    grpc_server.add_generic_rpc_handlers((handler,))
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    done.wait()
    grpc_server.stop(grace=1).wait()
    print("done", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["client", "server"])
    parser.add_argument("--server")
    parser.add_argument("--modes", default="flower")
    parser.add_argument("--cap", type=int, default=1 << 20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=".")
    args = parser.parse_args()
    {"client": client, "server": server}[args.role](args)


if __name__ == "__main__":
    sys.exit(main())

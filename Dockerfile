# NASiam.Web for GPU hosts: the web app with TorchSharp's CUDA build.
#   docker build -t nasiam-web .
#   docker run --gpus all -p 8080:8080 -v nasiam-data:/data -e Nasiam__AccessKey=change-me nasiam-web
# (TorchSharp-cuda-linux is restored from nuget.org at build time; the CPU build needs no Docker at all.)

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
# Self-contained, so the CUDA runtime image below needs no .NET install. The libstdc++ patch is
# applied "always": harmless on the newer libstdc++ of the runtime image, needed on older ones.
RUN dotnet publish src/NASiam.Web/NASiam.Web.csproj -c Release -r linux-x64 --self-contained true \
      -p:TorchBackend=cuda -p:TorchSharpGlibcxxFix=always -o /app

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS runtime
WORKDIR /app
COPY --from=build /app .
ENV ASPNETCORE_ENVIRONMENT=Production \
    OMP_WAIT_POLICY=PASSIVE \
    Kestrel__Endpoints__Http__Url=http://0.0.0.0:8080 \
    Nasiam__DataDirectory=/data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["./NASiam.Web"]

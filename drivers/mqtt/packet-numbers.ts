/**
 * Imported for its effect: mqtt-packet (which mqtt.js and aedes share) would build a
 * table of 65536 two-byte buffers on the first packet it writes, about 8 MB of heap
 * for the life of the process; without it, it allocates the two bytes as it writes
 * a number. Imported by the broker and the client before either writes a packet.
 */
import mqttPacket from 'mqtt-packet';

mqttPacket.writeToStream.cacheNumbers = false;
